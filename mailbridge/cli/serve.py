"""``mailbridge serve`` and ``mailbridge check-config``."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import typer

from mailbridge.cli.common import (
    ConfigOption,
    errors_to_exit,
    open_bridge,
    settings_from,
)
from mailbridge.config.loader import config_path
from mailbridge.config.yamlpos import LineMap, line_of, load_yaml_with_lines
from mailbridge.context import load_live_config, templates_dir
from mailbridge.errors import ConfigError, ConfigIssue, MailbridgeError
from mailbridge.log import setup_logging
from mailbridge.reply.render import Renderer
from mailbridge.service import Service
from mailbridge.verify.pdf_trust import PdfTrust

__all__ = ["check_config", "serve"]


def serve(config: ConfigOption = None) -> None:
    """Run the bridge: SMTP, workers and the outbox, until SIGTERM."""
    setup_logging()
    bridge = open_bridge(config)

    loop = asyncio.new_event_loop()
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="mailbridge")
    loop.set_default_executor(executor)
    try:
        with errors_to_exit():
            code = loop.run_until_complete(Service(bridge).run())
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        loop.close()
    if any(
        t.name.startswith("mailbridge") and t.is_alive() for t in threading.enumerate()
    ):
        # a thread still runs a check (OCR, PDF validation) of a message that stays
        # claimed and is recovered at the next start: do not wait for it
        logging.shutdown()
        os._exit(code)
    raise typer.Exit(code)


def _with_line(issue: ConfigIssue, lines: LineMap) -> ConfigIssue:
    """``issue`` with the line of its key, when the key is in the config file."""
    if issue.line is not None:
        return issue
    loc: list[str | int] = []
    for part in issue.key.replace("]", "").replace("[", ".").split("."):
        loc.append(int(part) if part.isdigit() else part)
    return replace(issue, line=line_of(lines, tuple(loc)))


def check_config(config: ConfigOption = None) -> None:
    """Validate mailbridge.yaml, agencies, rules, templates and trust roots."""
    path = config_path(config)
    issues: list[ConfigIssue] = []
    try:
        settings = settings_from(config)
    except typer.Exit:
        raise
    try:
        load_live_config(settings)
    except ConfigError as exc:
        issues.extend(exc.issues)
    folder = templates_dir(settings)
    for problem in Renderer(folder).check():
        issues.append(ConfigIssue(str(folder), None, "templates", problem))
    base = settings.config_file.parent if settings.config_file else path.parent
    try:
        PdfTrust.from_config(
            settings.trust.pdf_roots,
            base_dir=base,
            crl_dir=settings.trust.crl_dir,
            source=str(path),
        )
    except ConfigError as exc:
        _, lines = load_yaml_with_lines(path)
        issues.extend(_with_line(issue, lines) for issue in exc.issues)
    except MailbridgeError as exc:
        issues.append(ConfigIssue(str(path), None, "trust.pdf_roots", str(exc)))
    if issues:
        for issue in issues:
            typer.echo(str(issue), err=True)
        typer.echo(
            f"mailbridge: {len(issues)} problem(s) in the configuration", err=True
        )
        raise typer.Exit(1)
    typer.echo(f"{path}: OK")
