"""Reading the register: the queries the CLI and the API share."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from mailbridge.clock import VN_TZ
from mailbridge.errors import NotFound
from mailbridge.register.models import DocumentRow, MessageRow, StoredFile
from mailbridge.register.serialize import document_json, message_json

__all__ = [
    "count_documents",
    "get_document",
    "get_message",
    "list_documents",
    "list_messages",
    "stored_file",
]


def _since(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=VN_TZ)


def _document_query(status: str | None, since: date | None, agency: str | None) -> Any:
    query = select(DocumentRow)
    if status:
        query = query.where(DocumentRow.status == status)
    start = _since(since)
    if start is not None:
        query = query.where(col(DocumentRow.received_at) >= start)
    if agency:
        query = query.where(DocumentRow.agency_code == agency)
    return query


def list_documents(
    engine: Engine,
    *,
    status: str | None = None,
    since: date | None = None,
    agency: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Documents, newest first, each the full SPEC object."""
    query = _document_query(status, since, agency).order_by(
        col(DocumentRow.received_at).desc(), col(DocumentRow.id).desc()
    )
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return [document_json(session, row) for row in session.exec(query).all()]


def count_documents(
    engine: Engine,
    *,
    status: str | None = None,
    since: date | None = None,
    agency: str | None = None,
) -> int:
    query = _document_query(status, since, agency).with_only_columns(func.count())
    with Session(engine) as session:
        return int(session.exec(query).one())


def get_document(engine: Engine, document_id: int) -> dict[str, Any]:
    with Session(engine) as session:
        row = session.get(DocumentRow, document_id)
        if row is None:
            raise NotFound(f"no document {document_id}")
        return document_json(session, row)


def list_messages(
    engine: Engine, *, limit: int | None = None, offset: int = 0
) -> list[dict[str, Any]]:
    """Every inbound message, newest first."""
    query = select(MessageRow).order_by(
        col(MessageRow.received_at).desc(), col(MessageRow.id).desc()
    )
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with Session(engine) as session:
        return [message_json(row) for row in session.exec(query).all()]


def get_message(engine: Engine, message_row_id: int) -> MessageRow:
    with Session(engine) as session:
        row = session.get(MessageRow, message_row_id)
        if row is None:
            raise NotFound(f"no message {message_row_id}")
        return MessageRow(**row.model_dump())


def stored_file(engine: Engine, document_id: int, name: str) -> StoredFile:
    with Session(engine) as session:
        row = session.exec(
            select(StoredFile).where(
                StoredFile.document_id == document_id, StoredFile.name == name
            )
        ).first()
        if row is None:
            raise NotFound(f"no file {name!r} in document {document_id}")
        return StoredFile(**row.model_dump())
