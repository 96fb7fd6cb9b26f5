"""``mailbridge ingest`` and ``mailbridge rules test``."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from mailbridge.cli.common import (
    ConfigOption,
    JsonOption,
    echo_json,
    errors_to_exit,
    open_bridge,
)
from mailbridge.clock import isoformat
from mailbridge.context import Bridge
from mailbridge.errors import VerificationUnavailable
from mailbridge.ingest.files import envelope_sender_of, iter_messages
from mailbridge.ingest.priority import urgency_hint
from mailbridge.log import setup_logging
from mailbridge.pipeline import judge
from mailbridge.register.db import migrate
from mailbridge.service import outbox_sender
from mailbridge.spool import Envelope
from mailbridge.worker import Worker

__all__ = ["ingest", "rules_test"]

#: seconds ``ingest`` spends handing its replies to the smarthost before leaving the
#: rest in the outbox for ``serve``
SEND_SECONDS = 20.0


async def _ingest(bridge: Bridge, paths: list[Path]) -> Counter[str]:
    await asyncio.to_thread(migrate, bridge.engine)
    spooled = 0
    for path in paths:
        for label, raw in iter_messages(path):
            envelope = Envelope(
                mail_from=envelope_sender_of(raw),
                rcpt_tos=(),
                received_at=isoformat(bridge.clock.now()) or "",
                source=f"ingest:{Path(label).name}",
                priority=urgency_hint(raw),
            )
            spool_id = bridge.spool.put(raw, envelope)
            spooled += 1
            typer.echo(f"spooled {label} as {spool_id}", err=True)
    counts: Counter[str] = Counter()
    worker = Worker(bridge)
    done = 0
    while (processed := await worker.process_next()) is not None:
        done += 1
        if processed.recorded is not None:
            counts[processed.recorded.message.verdict] += 1
        else:
            counts[processed.outcome] += 1
        typer.echo(
            f"[{done}/{spooled}] {processed.spool_id}: {_label(processed)}", err=True
        )
    sender = outbox_sender(bridge)
    try:
        await asyncio.wait_for(sender.run_once(), timeout=SEND_SECONDS)
    except TimeoutError:
        typer.echo("replies not yet sent stay in the outbox for serve", err=True)
    return counts


def _label(processed: Any) -> str:
    if processed.recorded is None:
        return f"{processed.outcome}: {processed.error}"
    msg = processed.recorded.message
    reason = f" {msg.reason}" if msg.reason else ""
    doc = f" document {msg.document_id}" if msg.document_id else ""
    return f"{msg.verdict}{reason}{doc}"


def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help=".eml files, mbox files, Maildir folders")
    ],
    config: ConfigOption = None,
) -> None:
    """Feed messages through the same spool and pipeline as SMTP, replies included."""
    setup_logging("WARNING")
    bridge = open_bridge(config)
    with errors_to_exit():
        try:
            counts = asyncio.run(_ingest(bridge, paths))
        except FileNotFoundError as exc:
            typer.echo(f"mailbridge: {exc}", err=True)
            raise typer.Exit(1) from exc
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "nothing"
    typer.echo(f"ingested {sum(counts.values())} message(s): {summary}")


def rules_test(
    message: Annotated[Path, typer.Argument(help="the .eml file to judge")],
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Dry run: every check and rule, hit or miss, and the verdict. Changes nothing."""
    setup_logging("WARNING")
    bridge = open_bridge(config)
    try:
        raw = message.read_bytes()
    except OSError as exc:
        typer.echo(f"mailbridge: {exc}", err=True)
        raise typer.Exit(1) from exc
    envelope = Envelope(
        None, (), isoformat(bridge.clock.now()) or "", source="rules-test"
    )
    try:
        judged = asyncio.run(judge(bridge, raw, envelope))
    except VerificationUnavailable as exc:
        typer.echo(f"verdict: wait (a check is temporarily unavailable: {exc})")
        raise typer.Exit(0) from exc
    verdict = judged.verdict
    if as_json:
        echo_json(
            {
                "verdict": verdict.message_verdict.value,
                "action": verdict.action,
                "reason": verdict.reason.value if verdict.reason else None,
                "detail": verdict.detail,
                "rule": verdict.rule,
                "route_to": verdict.route_to,
                "priority": verdict.priority,
                "deadline_hours": verdict.deadline_hours,
                "tags": list(verdict.tags),
                "trace": verdict.trace_json(),
            }
        )
        return
    for entry in verdict.trace:
        mark = "HIT " if entry.hit else "miss"
        detail = f"  ({entry.detail})" if entry.detail else ""
        typer.echo(f"{mark} {entry.kind:5} {entry.name}{detail}")
    reason = f" {verdict.reason.value}" if verdict.reason else ""
    typer.echo(f"verdict: {verdict.message_verdict.value}{reason}")
    for name in ("route_to", "priority", "deadline_hours"):
        value = getattr(verdict, name)
        if value is not None:
            typer.echo(f"{name}: {value}")
    if verdict.tags:
        typer.echo(f"tags: {', '.join(verdict.tags)}")
