"""What every subcommand shares: ``-c/--config``, loading, errors, JSON output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from mailbridge.config.loader import config_path, load_settings
from mailbridge.config.schema import Settings
from mailbridge.context import Bridge, build_bridge
from mailbridge.errors import ConfigError, MailbridgeError

__all__ = [
    "ConfigOption",
    "JsonOption",
    "die",
    "echo_json",
    "errors_to_exit",
    "open_bridge",
    "settings_from",
]

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "-c",
        "--config",
        help="mailbridge.yaml (default: $MAILBRIDGE_CONFIG, then config/mailbridge.yaml)",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON")]


def die(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"mailbridge: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn mailbridge errors into a message on stderr and exit status 1."""
    try:
        yield
    except ConfigError as exc:
        for issue in exc.issues:
            typer.echo(str(issue), err=True)
        die("the configuration is invalid; fix the lines above and run check-config")
    except MailbridgeError as exc:
        die(str(exc))


def settings_from(config: Path | None) -> Settings:
    with errors_to_exit():
        return load_settings(config_path(config))


def open_bridge(config: Path | None) -> Bridge:
    settings = settings_from(config)
    with errors_to_exit():
        return build_bridge(settings)


def echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
