"""Register rows to the JSON objects of SPEC.md section 2 (CLI ``--json`` and the API)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from mailbridge.clock import isoformat
from mailbridge.codes import DOCUMENT_TYPE_NAMES, STATUS_LABELS, Status
from mailbridge.register.models import DocumentRow, MessageRow, StatusEvent, StoredFile

__all__ = ["document_json", "history_json", "message_json"]


def history_json(session: Session, document_id: int) -> list[dict[str, Any]]:
    events = session.exec(
        select(StatusEvent)
        .where(StatusEvent.document_id == document_id)
        .order_by(col(StatusEvent.at), col(StatusEvent.id))
    ).all()
    return [
        {"status": e.status, "at": isoformat(e.at), "actor": e.actor, "note": e.note}
        for e in events
    ]


def _files_json(session: Session, document_id: int) -> list[dict[str, Any]]:
    files = session.exec(
        select(StoredFile)
        .where(StoredFile.document_id == document_id)
        .order_by(col(StoredFile.id))
    ).all()
    return [
        {
            "name": f.name,
            "content_type": f.content_type,
            "size": f.size,
            "sha256": f.sha256,
            "role": f.role,
        }
        for f in files
    ]


def document_json(session: Session, row: DocumentRow) -> dict[str, Any]:
    """The full document object: metadata, verification results, files, history."""
    assert row.id is not None
    type_name = row.document_type_name or (
        DOCUMENT_TYPE_NAMES.get(row.document_type) if row.document_type else None
    )
    return {
        "id": row.id,
        "incoming_number": row.incoming_number,
        "book": row.book,
        "year": row.year,
        "status": row.status,
        "status_label": STATUS_LABELS[Status(row.status)],
        "agency_code": row.agency_code,
        "agency_name": row.agency_name,
        "sender": row.sender,
        "recipient": row.recipient,
        "message_id": row.message_id,
        "subject": row.subject,
        "number_symbol": row.number_symbol,
        "issue_date": row.issue_date,
        "document_type": row.document_type,
        "document_type_name": type_name,
        "urgency": row.urgency,
        "abstract": row.abstract,
        "signer_name": row.signer_name,
        "signer_position": row.signer_position,
        "deadline": isoformat(row.deadline),
        "legal_value": row.legal_value,
        "signatures": list(row.signatures or []),
        "dkim": dict(row.dkim or {"result": "none", "domain": None}),
        "files": _files_json(session, row.id),
        "route_to": row.route_to,
        "priority": row.priority,
        "tags": list(row.tags or []),
        "late": row.late,
        "received_at": isoformat(row.received_at),
        "registered_at": isoformat(row.registered_at),
        "history": history_json(session, row.id),
        "supersedes": row.supersedes,
        "superseded_by": row.superseded_by,
        "extracted": dict(row.extracted or {}),
    }


def message_json(row: MessageRow) -> dict[str, Any]:
    """The message object: every inbound message with its verdict and reason."""
    return {
        "id": row.id,
        "message_id": row.message_id,
        "received_at": isoformat(row.received_at),
        "sender": row.sender,
        "recipients": list(row.recipients or []),
        "subject": row.subject,
        "verdict": row.verdict,
        "reason": row.reason,
        "reason_detail": row.reason_detail,
        "rule": row.rule,
        "document_id": row.document_id,
        "agency_code": row.agency_code,
        "source": row.source,
        "spool_id": row.spool_id,
        "raw_sha256": row.raw_sha256,
        "decided_at": isoformat(row.decided_at),
        "authentication_results": row.authentication_results,
        "trace": list(row.trace or []),
    }
