"""Alembic environment: mailbridge passes its own connection (see register/db.py)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from mailbridge.register import models  # noqa: F401 - registers the tables

target_metadata = SQLModel.metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through mailbridge.register.db.migrate
    raise RuntimeError("run migrations through mailbridge.register.db.migrate()")

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
