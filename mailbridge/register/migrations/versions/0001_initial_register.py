"""initial register

Revision ID: 0001
Revises:
Create Date: 2026-12-01 15:41:31.511602
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailbridge.register.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "counters",
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("book", "year"),
    )
    op.create_table(
        "documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incoming_number", sa.Integer(), nullable=True),
        sa.Column("book", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("agency_code", sa.String(length=64), nullable=True),
        sa.Column("agency_name", sa.Text(), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("number_symbol", sa.String(length=255), nullable=True),
        sa.Column("issue_date", sa.String(length=10), nullable=True),
        sa.Column("document_type", sa.String(length=16), nullable=True),
        sa.Column(
            "document_type_name",
            sa.String(length=255),
            nullable=True,
        ),
        sa.Column("urgency", sa.String(length=32), nullable=True),
        sa.Column("abstract", sa.Text(), nullable=True),
        sa.Column("signer_name", sa.String(length=255), nullable=True),
        sa.Column("signer_position", sa.Text(), nullable=True),
        sa.Column("deadline", mailbridge.register.types.UtcDateTime(), nullable=True),
        sa.Column("legal_value", sa.String(length=16), nullable=False),
        sa.Column("signatures", sa.JSON(), nullable=True),
        sa.Column("dkim", sa.JSON(), nullable=True),
        sa.Column("extracted", sa.JSON(), nullable=True),
        sa.Column("route_to", sa.String(length=255), nullable=True),
        sa.Column("priority", sa.String(length=32), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column(
            "received_at", mailbridge.register.types.UtcDateTime(), nullable=False
        ),
        sa.Column(
            "registered_at", mailbridge.register.types.UtcDateTime(), nullable=True
        ),
        sa.Column("pdf_sha256", sa.String(length=64), nullable=True),
        sa.Column("supersedes", sa.Integer(), nullable=True),
        sa.Column("superseded_by", sa.Integer(), nullable=True),
        sa.Column("voided", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["superseded_by"],
            ["documents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["supersedes"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("book", "year", "incoming_number"),
    )
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_documents_agency_code"), ["agency_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_documents_pdf_sha256"), ["pdf_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_documents_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_documents_status"), ["status"], unique=False
        )

    op.create_table(
        "document_keys",
        sa.Column("agency_code", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("agency_code", "key"),
    )
    with op.batch_alter_table("document_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_document_keys_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("verification", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_files_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_files_sha256"), ["sha256"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("spool_id", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column(
            "message_id_hash",
            sa.String(length=64),
            nullable=False,
        ),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "received_at", mailbridge.register.types.UtcDateTime(), nullable=False
        ),
        sa.Column(
            "decided_at", mailbridge.register.types.UtcDateTime(), nullable=False
        ),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column(
            "envelope_sender",
            sa.String(length=320),
            nullable=True,
        ),
        sa.Column("recipients", sa.JSON(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("agency_code", sa.String(length=64), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=True),
        sa.Column("reason_detail", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(length=255), nullable=True),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("authentication_results", sa.Text(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=True),
        sa.Column("trace", sa.JSON(), nullable=True),
        sa.Column(
            "reply_message_id",
            sa.String(length=998),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("spool_id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_messages_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_message_id_hash"), ["message_id_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_raw_sha256"), ["raw_sha256"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "status_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("at", mailbridge.register.types.UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_status_events_document_id"), ["document_id"], unique=False
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("rcpt_to", sa.JSON(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", mailbridge.register.types.UtcDateTime(), nullable=False
        ),
        sa.Column(
            "next_attempt_at", mailbridge.register.types.UtcDateTime(), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", mailbridge.register.types.UtcDateTime(), nullable=True),
        sa.Column(
            "claimed_until", mailbridge.register.types.UtcDateTime(), nullable=True
        ),
        sa.Column("document_id", sa.Integer(), nullable=True),
        sa.Column("message_row_id", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["message_row_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_document_id"), ["document_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_document_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("status_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_status_events_document_id"))

    op.drop_table("status_events")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_messages_received_at"))
        batch_op.drop_index(batch_op.f("ix_messages_raw_sha256"))
        batch_op.drop_index(batch_op.f("ix_messages_message_id_hash"))
        batch_op.drop_index(batch_op.f("ix_messages_message_id"))
        batch_op.drop_index(batch_op.f("ix_messages_document_id"))

    op.drop_table("messages")
    with op.batch_alter_table("files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_files_sha256"))
        batch_op.drop_index(batch_op.f("ix_files_document_id"))

    op.drop_table("files")
    with op.batch_alter_table("document_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_document_keys_document_id"))

    op.drop_table("document_keys")
    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_documents_status"))
        batch_op.drop_index(batch_op.f("ix_documents_received_at"))
        batch_op.drop_index(batch_op.f("ix_documents_pdf_sha256"))
        batch_op.drop_index(batch_op.f("ix_documents_agency_code"))

    op.drop_table("documents")
    op.drop_table("counters")
