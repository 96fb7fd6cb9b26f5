"""Shared fixtures: a register database for each test, on SQLite and on PostgreSQL.

``pg_url`` gives a test its own empty schema on the PostgreSQL server named by
``MAILBRIDGE_PG_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
and drops it afterwards; connections made with the URL see only that schema (the
``options=-csearch_path=<schema>`` connection option). Without a reachable server
the test is skipped, unless ``MAILBRIDGE_REQUIRE_PG=1`` (CI), where it fails.

``db_url`` runs a test twice: on a SQLite file in ``tmp_path`` and on PostgreSQL.
Tests using either fixture get the ``pg`` marker, so ``-m "not pg"`` leaves them out.
``engine`` is a migrated, empty register on ``db_url``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from mailbridge.register.db import connect, migrate

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _server_url() -> str:
    """The PostgreSQL server the tests use (a plain ``postgresql://`` gets psycopg 3)."""
    url = make_url(os.environ.get("MAILBRIDGE_PG_URL") or DEFAULT_PG_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=False)


@cache
def _pg_unreachable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it can (asked once)."""
    url = _server_url()
    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        return f"no PostgreSQL at {make_url(url).render_as_string()}: {cause[0]}"
    finally:
        engine.dispose()
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``pg`` every test that asks for ``pg_url`` (``db_url`` marks its own)."""
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.pg)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL whose connections see only a fresh, empty schema."""
    problem = _pg_unreachable()
    if problem is not None:
        if os.environ.get("MAILBRIDGE_REQUIRE_PG") == "1":
            pytest.fail(f"MAILBRIDGE_REQUIRE_PG=1 but {problem}", pytrace=False)
        pytest.skip(problem)
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(_server_url(), connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(_server_url()).update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            # a connection a test left inside a transaction must not hang the suite
            conn.execute(text("SET LOCAL lock_timeout = '20s'"))
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The register's URL: a SQLite file in ``tmp_path``, or a PostgreSQL schema."""
    if request.param == "pg":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'register.db'}"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty register."""
    engine = connect(db_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()
