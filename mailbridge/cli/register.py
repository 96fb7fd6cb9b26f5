"""``mailbridge documents ...`` and ``mailbridge messages ...``: the register."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

import typer
from sqlmodel import Session

from mailbridge.answers import status_notice
from mailbridge.cli.common import (
    ConfigOption,
    JsonOption,
    die,
    echo_json,
    errors_to_exit,
    open_bridge,
)
from mailbridge.codes import STATUS_LABELS, MessageVerdict, Reason, Status
from mailbridge.context import Bridge
from mailbridge.register.db import migrate
from mailbridge.register.models import DocumentRow, StatusEvent
from mailbridge.register.queries import (
    get_document,
    get_message,
    list_documents,
    list_messages,
)
from mailbridge.register.repository import MailToSend, change_status
from mailbridge.register.serialize import document_json
from mailbridge.service import outbox_sender

__all__ = ["documents_app", "messages_app"]

documents_app = typer.Typer(
    help="The register of incoming documents.", no_args_is_help=True
)
messages_app = typer.Typer(
    help="Every inbound message and its verdict.", no_args_is_help=True
)

LimitOption = Annotated[
    int | None, typer.Option("--limit", min=1, help="at most N rows")
]


def _bridge(config: Any) -> Bridge:
    bridge = open_bridge(config)
    with errors_to_exit():
        migrate(bridge.engine)
    return bridge


@documents_app.command("list")
def documents_list(
    status: Annotated[
        str | None, typer.Option("--status", help="only this status")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="yyyy-mm-dd, Vietnam time")
    ] = None,
    limit: LimitOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """The register, newest first."""
    if status is not None and status not in {s.value for s in Status}:
        die(f"unknown status {status!r}; one of: {', '.join(s.value for s in Status)}")
    day = None
    if since is not None:
        try:
            day = date.fromisoformat(since)
        except ValueError:
            die(f"--since wants yyyy-mm-dd, not {since!r}")
    bridge = _bridge(config)
    docs = list_documents(bridge.engine, status=status, since=day, limit=limit)
    if as_json:
        echo_json(docs)
        return
    if not docs:
        typer.echo("no documents")
        return
    for d in docs:
        number = f"{d['incoming_number']}/{d['year']}" if d["incoming_number"] else "-"
        typer.echo(
            f"{d['id']:>5}  {number:>9}  {d['status']:<16} {d['agency_code'] or '-':<12} "
            f"{d['number_symbol'] or '-':<20} {d['abstract'] or d['subject'] or ''}"
        )


@documents_app.command("show")
def documents_show(
    document_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """One document with its verification results and history."""
    bridge = _bridge(config)
    with errors_to_exit():
        doc = get_document(bridge.engine, document_id)
    if as_json:
        echo_json(doc)
        return
    for key in (
        "id",
        "incoming_number",
        "book",
        "year",
        "status_label",
        "agency_name",
        "sender",
        "number_symbol",
        "issue_date",
        "document_type_name",
        "urgency",
        "abstract",
        "signer_name",
        "signer_position",
        "legal_value",
        "deadline",
        "route_to",
        "received_at",
    ):
        typer.echo(f"{key:>18}: {doc[key] if doc[key] is not None else '-'}")
    typer.echo(
        f"{'dkim':>18}: {doc['dkim'].get('result')} {doc['dkim'].get('domain') or ''}"
    )
    for sig in doc["signatures"]:
        typer.echo(
            f"{'signature':>18}: {sig['state']} {sig.get('signer')} ({sig.get('organisation')}) {sig.get('signing_time')}"
        )
    for f in doc["files"]:
        typer.echo(
            f"{'file':>18}: {f['name']} {f['content_type']} {f['size']} B sha256={f['sha256']}"
        )
    metadata = (doc.get("extracted") or {}).get("metadata") or {}
    if metadata.get("low_confidence"):
        shown = ", ".join(metadata["low_confidence"])
        typer.echo(f"{'check by hand':>18}: {shown} (low confidence)")
    for h in doc["history"]:
        note = f" — {h['note']}" if h["note"] else ""
        typer.echo(f"{'history':>18}: {h['at']} {h['status']} by {h['actor']}{note}")


def _notice(bridge: Bridge, reason: Reason | None = None) -> Any:
    def compose(
        session: Session, row: DocumentRow, event: StatusEvent
    ) -> list[MailToSend]:
        return list(
            status_notice(
                bridge,
                row,
                event,
                document_json=document_json(session, row),
                reason=reason,
            )
        )

    return compose


def _send_now(bridge: Bridge) -> None:
    """Try to hand the notice to the smarthost now; serve sends it later otherwise."""
    try:
        asyncio.run(asyncio.wait_for(outbox_sender(bridge).run_once(), timeout=15))
    except TimeoutError:
        typer.echo("the notice stays in the outbox; serve will send it", err=True)


@documents_app.command("set-status")
def documents_set_status(
    document_id: Annotated[int, typer.Argument(metavar="ID")],
    status: Annotated[str, typer.Argument(metavar="STATUS")],
    note: Annotated[str | None, typer.Option("--note")] = None,
    actor: Annotated[str, typer.Option("--actor")] = "admin",
    config: ConfigOption = None,
) -> None:
    """Change a document's status and send the status reply."""
    try:
        target = Status(status)
    except ValueError:
        die(f"unknown status {status!r}; one of: {', '.join(s.value for s in Status)}")
    bridge = _bridge(config)
    with errors_to_exit():
        change = change_status(
            bridge.engine,
            document_id,
            target,
            actor=actor,
            note=note,
            now=bridge.clock.now(),
            book=bridge.settings.numbering.book,
            compose=_notice(bridge),
        )
    typer.echo(
        f"document {document_id}: {change.previous} -> {target.value} ({STATUS_LABELS[target]})"
    )
    _send_now(bridge)


def _held_document(bridge: Bridge, message_id: int) -> int:
    with errors_to_exit():
        row = get_message(bridge.engine, message_id)
    if row.verdict != MessageVerdict.HELD.value or row.document_id is None:
        die(f"message {message_id} is not held (verdict {row.verdict})")
    return row.document_id


@messages_app.command("list")
def messages_list(
    limit: LimitOption = None,
    as_json: JsonOption = False,
    config: ConfigOption = None,
) -> None:
    """Every inbound message, registered or not, with its verdict and reason."""
    bridge = _bridge(config)
    rows = list_messages(bridge.engine, limit=limit)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("no messages")
        return
    for m in rows:
        typer.echo(
            f"{m['id']:>5}  {m['received_at']}  {m['verdict']:<9} {m['reason'] or '-':<20} "
            f"{m['sender'] or '-':<30} {m['subject'] or ''}"
        )


@messages_app.command("release")
def messages_release(
    message_id: Annotated[int, typer.Argument(metavar="ID")],
    actor: Annotated[str, typer.Option("--actor")] = "clerk",
    note: Annotated[str | None, typer.Option("--note")] = None,
    config: ConfigOption = None,
) -> None:
    """Release a held message: its document is registered and numbered."""
    bridge = _bridge(config)
    document_id = _held_document(bridge, message_id)
    with errors_to_exit():
        change = change_status(
            bridge.engine,
            document_id,
            Status.ACCEPTED,
            actor=actor,
            note=note,
            now=bridge.clock.now(),
            book=bridge.settings.numbering.book,
            compose=_notice(bridge),
            message_update={"verdict": MessageVerdict.ACCEPTED.value},
        )
    typer.echo(
        f"message {message_id} released: document {document_id} number {change.document.incoming_number}"
    )
    _send_now(bridge)


@messages_app.command("return")
def messages_return(
    message_id: Annotated[int, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option("--reason", help="a reason code, e.g. RULE")],
    actor: Annotated[str, typer.Option("--actor")] = "clerk",
    note: Annotated[str | None, typer.Option("--note")] = None,
    config: ConfigOption = None,
) -> None:
    """Return a held message to its sender with a reason code."""
    try:
        code = Reason(reason)
    except ValueError:
        die(f"unknown reason {reason!r}; one of: {', '.join(r.value for r in Reason)}")
    bridge = _bridge(config)
    document_id = _held_document(bridge, message_id)
    with errors_to_exit():
        change_status(
            bridge.engine,
            document_id,
            Status.RETURNED,
            actor=actor,
            note=note or code.value,
            now=bridge.clock.now(),
            book=bridge.settings.numbering.book,
            compose=_notice(bridge, reason=code),
            message_update={
                "verdict": MessageVerdict.RETURNED.value,
                "reason": code.value,
            },
        )
    typer.echo(f"message {message_id} returned ({code.value})")
    _send_now(bridge)
