"""Writing to the register: one transaction per decision, idempotent by construction.

``record_outcome`` stores an inbound message's verdict, its document (numbered when
accepted), the document's files and history, and the mails that answer it, all in one
transaction. Re-running it for the same spool id changes nothing (a crash between the
commit and the spool's ``done`` is harmless); the same Message-ID or PDF bytes from the
same agency again becomes a duplicate of the first document (unique keys, so this holds
across nodes sharing one PostgreSQL database too).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mailbridge.clock import VN_TZ
from mailbridge.codes import MessageVerdict, Status
from mailbridge.errors import NotFound
from mailbridge.register.db import transaction
from mailbridge.register.models import (
    DocumentKey,
    DocumentRow,
    MessageRow,
    OutboxRow,
    StatusEvent,
    StoredFile,
)
from mailbridge.register.statuses import check_transition

__all__ = [
    "MailToSend",
    "NewDocument",
    "NewFile",
    "Recorded",
    "StatusChange",
    "change_status",
    "next_incoming_number",
    "record_outcome",
]

log = logging.getLogger("mailbridge.register")

SYSTEM_ACTOR = "mailbridge"


@dataclass(frozen=True)
class NewFile:
    name: str
    content_type: str
    size: int
    sha256: str
    role: str = "document"
    verification: dict[str, Any] | None = None


@dataclass(frozen=True)
class NewDocument:
    """A document to register: ``accepted`` (numbered now) or ``arrived`` (held)."""

    status: Status
    keys: tuple[str, ...]  # idempotency keys, e.g. "msgid:<sha>", "pdf:<sha>"
    fields: dict[str, Any]  # DocumentRow column values
    files: tuple[NewFile, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class MailToSend:
    """A composed mail for the outbox; its Message-ID is fixed here, once."""

    message_id: str
    kind: str  # reply | notice | alert | outbound
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes
    status_code: str | None = None


@dataclass(frozen=True)
class Recorded:
    """What the register holds for a message after ``record_outcome``."""

    message: MessageRow
    document: DocumentRow | None
    duplicate: bool
    already_processed: bool = False
    mails: tuple[MailToSend, ...] = field(default=())


#: builds the answer once the register knows the number, inside the transaction:
#: (session, message, document, duplicate)
Composer = Callable[
    [Session, MessageRow, DocumentRow | None, bool], Sequence[MailToSend]
]


def next_incoming_number(session: Session, book: str, year: int) -> int:
    """The next number in (book, year), taken under the row's write lock.

    The increment is part of the caller's transaction: a rollback gives the number
    back, so numbers are never skipped, and concurrent writers wait for each other.
    """
    params = {"book": book, "year": year}
    session.execute(
        text(
            "INSERT INTO counters (book, year, last_number) VALUES (:book, :year, 0) "
            "ON CONFLICT (book, year) DO NOTHING"
        ),
        params,
    )
    number = session.execute(
        text(
            "UPDATE counters SET last_number = last_number + 1 "
            "WHERE book = :book AND year = :year RETURNING last_number"
        ),
        params,
    ).scalar_one()
    return int(number)


def _enqueue(
    session: Session,
    mails: Sequence[MailToSend],
    *,
    now: datetime,
    document_id: int | None,
    message_row_id: int | None,
) -> None:
    for mail in mails:
        session.add(
            OutboxRow(
                message_id=mail.message_id,
                kind=mail.kind,
                mail_from=mail.mail_from,
                rcpt_to=list(mail.rcpt_to),
                raw=mail.raw,
                created_at=now,
                next_attempt_at=now,
                document_id=document_id,
                message_row_id=message_row_id,
                status_code=mail.status_code,
            )
        )


def _find_duplicate(
    session: Session, agency_code: str, keys: Sequence[str]
) -> DocumentRow | None:
    if not keys:
        return None
    hit = session.exec(
        select(DocumentKey).where(
            DocumentKey.agency_code == agency_code, col(DocumentKey.key).in_(list(keys))
        )
    ).first()
    return None if hit is None else session.get(DocumentRow, hit.document_id)


def _insert_document(
    session: Session,
    doc: NewDocument,
    *,
    book: str,
    now: datetime,
    received_at: datetime,
) -> DocumentRow:
    local_now = now.astimezone(VN_TZ)
    row = DocumentRow(
        **doc.fields,
        status=doc.status.value,
        book=book,
        year=local_now.year,
        received_at=received_at,
    )
    if doc.status is Status.ACCEPTED:
        row.incoming_number = next_incoming_number(session, book, row.year)
        row.registered_at = now
    session.add(row)
    session.flush()
    assert row.id is not None
    agency = row.agency_code or ""
    for key in doc.keys:
        session.add(DocumentKey(agency_code=agency, key=key, document_id=row.id))
    for f in doc.files:
        session.add(
            StoredFile(
                document_id=row.id,
                name=f.name,
                content_type=f.content_type,
                size=f.size,
                sha256=f.sha256,
                role=f.role,
                verification=f.verification,
            )
        )
    # history: arrived when received; then accepted now, or a second "arrived"
    # carrying why it is held
    events: list[tuple[Status, datetime, str | None]] = [
        (Status.ARRIVED, received_at, None)
    ]
    if doc.status is not Status.ARRIVED or doc.note:
        events.append((doc.status, now, doc.note))
    for status, at, note in events:
        session.add(
            StatusEvent(
                document_id=row.id,
                status=status.value,
                at=at,
                actor=SYSTEM_ACTOR,
                note=note,
            )
        )
    session.flush()
    return row


def _record_once(
    engine: Engine,
    message: MessageRow,
    document: NewDocument | None,
    *,
    book: str,
    now: datetime,
    compose: Composer,
) -> Recorded:
    message = _copy(message)  # a fresh object each try: the last session may hold one
    with transaction(engine) as session:
        existing = session.exec(
            select(MessageRow).where(MessageRow.spool_id == message.spool_id)
        ).first()
        if existing is not None:
            doc = (
                session.get(DocumentRow, existing.document_id)
                if existing.document_id
                else None
            )
            return Recorded(existing, doc, duplicate=False, already_processed=True)
        row: DocumentRow | None = None
        duplicate = False
        if document is not None:
            agency = str(document.fields.get("agency_code") or "")
            row = _find_duplicate(session, agency, document.keys)
            if row is not None:
                duplicate = True
                message = _copy(message, verdict=MessageVerdict.DUPLICATE.value)
            else:
                row = _insert_document(
                    session,
                    document,
                    book=book,
                    now=now,
                    received_at=message.received_at,
                )
            message = _copy(message, document_id=row.id)
        session.add(message)
        session.flush()
        mails = tuple(compose(session, message, row, duplicate))
        if mails:
            message.reply_message_id = mails[0].message_id
        _enqueue(
            session,
            mails,
            now=now,
            document_id=row.id if row else None,
            message_row_id=message.id,
        )
        session.flush()
        return Recorded(message, row, duplicate=duplicate, mails=mails)


def _copy(message: MessageRow, **changes: Any) -> MessageRow:
    data = message.model_dump()
    data.update(changes)
    return MessageRow(**data)


def record_outcome(
    engine: Engine,
    message: MessageRow,
    document: NewDocument | None,
    *,
    book: str,
    now: datetime,
    compose: Composer,
) -> Recorded:
    """Store a decided message (and its document and answer) exactly once."""
    for attempt in range(3):
        try:
            return _record_once(
                engine, message, document, book=book, now=now, compose=compose
            )
        except IntegrityError:
            # another node registered the same document (or processed the same spool
            # id) between our lookup and our insert: run again, it is now a duplicate
            if attempt == 2:
                raise
            log.warning(
                "spool_id=%s concurrent registration; retrying", message.spool_id
            )
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class StatusChange:
    document: DocumentRow
    event: StatusEvent
    previous: str


def change_status(
    engine: Engine,
    document_id: int,
    status: Status,
    *,
    actor: str,
    note: str | None,
    now: datetime,
    book: str,
    compose: Callable[[Session, DocumentRow, StatusEvent], Sequence[MailToSend]]
    | None = None,
    message_update: dict[str, Any] | None = None,
) -> StatusChange:
    """Move a document to ``status`` (checked), record the event, queue the notice.

    Releasing a held document (``arrived`` -> ``accepted``) assigns its number.
    ``message_update`` sets columns of the inbound message(s) of the document (a
    clerk's decision on a held message changes its verdict).
    """
    with transaction(engine) as session:
        row = session.get(DocumentRow, document_id, with_for_update=True)
        if row is None:
            raise NotFound(f"no document {document_id}")
        previous = row.status
        check_transition(previous, status)
        row.status = status.value
        if status is Status.ACCEPTED and row.incoming_number is None:
            row.year = now.astimezone(VN_TZ).year
            row.incoming_number = next_incoming_number(session, book, row.year)
            row.book = book
            row.registered_at = now
        if status is Status.RECALLED:
            row.voided = True
        event = StatusEvent(
            document_id=document_id, status=status.value, at=now, actor=actor, note=note
        )
        session.add(row)
        session.add(event)
        session.flush()
        if message_update:
            for msg in session.exec(
                select(MessageRow).where(MessageRow.document_id == document_id)
            ):
                for key, value in message_update.items():
                    setattr(msg, key, value)
                session.add(msg)
        if compose is not None:
            _enqueue(
                session,
                compose(session, row, event),
                now=now,
                document_id=document_id,
                message_row_id=None,
            )
        session.flush()
        return StatusChange(replace_row(row), event, previous)


def replace_row(row: DocumentRow) -> DocumentRow:
    """A detached copy of ``row`` safe to use after the session closed."""
    return DocumentRow(**row.model_dump())
