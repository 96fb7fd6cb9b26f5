"""``mailbridge demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mailbridge.cli.common import ConfigOption, die
from mailbridge.config.loader import config_path

__all__ = ["demo"]


def _repository_folders(config: Path | None) -> tuple[Path, Path]:
    """templates/ and rules/ beside the config folder (the repository layout)."""
    base = config_path(config).resolve().parent.parent
    templates, rules = base / "templates", base / "rules"
    if not templates.is_dir() or not rules.is_dir():
        die(
            f"cannot find templates/ and rules/ in {base}: run the demo from the "
            "mailbridge folder, or pass -c with a config beside them"
        )
    return templates, rules


def demo(
    config: ConfigOption = None,
    keep: Annotated[bool, typer.Option("--keep", help="keep the demo folder")] = False,
) -> None:
    """Generate a test CA, keys and an agency; run a bridge; send a signed document."""
    from mailbridge.demo import run_demo

    templates, rules = _repository_folders(config)
    try:
        result = run_demo(
            templates_dir=templates, rules_dir=rules, say=typer.echo, keep=keep
        )
    except (OSError, RuntimeError, TimeoutError) as exc:
        die(f"demo failed: {exc}")
    typer.echo(f"status: {result.status}")
    typer.echo(f"incoming number: {result.incoming_number}")
    if result.status != "accepted":
        raise typer.Exit(1)
