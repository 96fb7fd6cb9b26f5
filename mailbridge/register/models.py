"""The register's tables (sqlmodel). The schema itself is managed by Alembic.

- ``messages``: every inbound message, registered or not, with its verdict and trace;
- ``documents``: registered documents (numbered per book and year once accepted);
- ``document_keys``: idempotency keys (Message-ID hash, PDF hash per agency) that make
  "registered at most once" a unique constraint rather than a hope;
- ``files``: stored files, content-addressed by SHA-256 under ``data_dir/files``;
- ``status_events``: the status history with actor, time and note;
- ``counters``: the last incoming number per (book, year);
- ``outbox``: every mail the bridge sends (replies, notices, alerts), decided in the same
  transaction as the verdict so that a reply is neither lost nor decided twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from mailbridge.register.types import UtcDateTime

__all__ = [
    "Counter",
    "DocumentKey",
    "DocumentRow",
    "MessageRow",
    "OutboxRow",
    "StatusEvent",
    "StoredFile",
]


def _json(*, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=nullable))


def _dt(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None, sa_column=Column(UtcDateTime, nullable=nullable, index=index)
    )


class MessageRow(SQLModel, table=True):
    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    spool_id: str = Field(unique=True, max_length=64)
    node: str = Field(default="", max_length=128)
    source: str = Field(default="smtp", max_length=255)
    message_id: str | None = Field(default=None, index=True, max_length=998)
    message_id_hash: str = Field(index=True, max_length=64)
    raw_sha256: str = Field(index=True, max_length=64)
    size: int = 0
    received_at: datetime = _dt(nullable=False, index=True)
    decided_at: datetime = _dt(nullable=False)
    sender: str | None = Field(default=None, max_length=320)
    envelope_sender: str | None = Field(default=None, max_length=320)
    recipients: list[str] = _json()
    subject: str | None = Field(default=None, sa_column=Column(Text))
    agency_code: str | None = Field(default=None, max_length=64)
    verdict: str = Field(max_length=16)
    reason: str | None = Field(default=None, max_length=32)
    reason_detail: str | None = Field(default=None, sa_column=Column(Text))
    rule: str | None = Field(default=None, max_length=255)
    document_id: int | None = Field(
        default=None, foreign_key="documents.id", index=True
    )
    authentication_results: str | None = Field(default=None, sa_column=Column(Text))
    facts: dict[str, Any] = _json()
    trace: list[dict[str, Any]] = _json()
    reply_message_id: str | None = Field(default=None, max_length=998)


class DocumentRow(SQLModel, table=True):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("book", "year", "incoming_number"),)

    id: int | None = Field(default=None, primary_key=True)
    incoming_number: int | None = None
    book: str = Field(max_length=64)
    year: int
    status: str = Field(index=True, max_length=32)
    agency_code: str | None = Field(default=None, index=True, max_length=64)
    agency_name: str | None = Field(default=None, sa_column=Column(Text))
    sender: str | None = Field(default=None, max_length=320)
    recipient: str | None = Field(default=None, max_length=320)
    message_id: str | None = Field(default=None, max_length=998)
    subject: str | None = Field(default=None, sa_column=Column(Text))
    number_symbol: str | None = Field(default=None, max_length=255)
    issue_date: str | None = Field(default=None, max_length=10)
    document_type: str | None = Field(default=None, max_length=16)
    document_type_name: str | None = Field(default=None, max_length=255)
    urgency: str | None = Field(default=None, max_length=32)
    abstract: str | None = Field(default=None, sa_column=Column(Text))
    signer_name: str | None = Field(default=None, max_length=255)
    signer_position: str | None = Field(default=None, sa_column=Column(Text))
    deadline: datetime | None = _dt()
    legal_value: str = Field(default="reference", max_length=16)
    signatures: list[dict[str, Any]] = _json()
    dkim: dict[str, Any] = _json()
    extracted: dict[str, Any] = _json()
    route_to: str | None = Field(default=None, max_length=255)
    priority: str | None = Field(default=None, max_length=32)
    tags: list[str] = _json()
    late: bool = False
    received_at: datetime = _dt(nullable=False, index=True)
    registered_at: datetime | None = _dt()
    pdf_sha256: str | None = Field(default=None, index=True, max_length=64)
    supersedes: int | None = Field(default=None, foreign_key="documents.id")
    superseded_by: int | None = Field(default=None, foreign_key="documents.id")
    voided: bool = False


class DocumentKey(SQLModel, table=True):
    """An idempotency key of a document: ``msgid:<sha256>`` or ``pdf:<sha256>``."""

    __tablename__ = "document_keys"

    agency_code: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=80)
    document_id: int = Field(foreign_key="documents.id", index=True)


class StoredFile(SQLModel, table=True):
    __tablename__ = "files"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    name: str = Field(max_length=255)
    content_type: str = Field(max_length=255)
    size: int
    sha256: str = Field(index=True, max_length=64)
    role: str = Field(default="document", max_length=16)  # document | annex
    verification: dict[str, Any] | None = _json()


class StatusEvent(SQLModel, table=True):
    __tablename__ = "status_events"

    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(foreign_key="documents.id", index=True)
    status: str = Field(max_length=32)
    at: datetime = _dt(nullable=False)
    actor: str = Field(max_length=255)
    note: str | None = Field(default=None, sa_column=Column(Text))


class Counter(SQLModel, table=True):
    __tablename__ = "counters"

    book: str = Field(primary_key=True, max_length=64)
    year: int = Field(primary_key=True)
    last_number: int = 0


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(unique=True, max_length=998)
    kind: str = Field(max_length=16)  # reply | notice | alert | outbound
    status: str = Field(
        default="pending", index=True, max_length=16
    )  # pending|sent|failed
    mail_from: str = Field(max_length=320)
    rcpt_to: list[str] = _json(nullable=False)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: datetime = _dt(nullable=False)
    next_attempt_at: datetime = _dt(nullable=False, index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = _dt()
    claimed_until: datetime | None = _dt()
    document_id: int | None = Field(
        default=None, foreign_key="documents.id", index=True
    )
    message_row_id: int | None = Field(default=None, foreign_key="messages.id")
    status_code: str | None = Field(default=None, max_length=32)
