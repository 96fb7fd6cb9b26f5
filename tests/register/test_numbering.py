"""Incoming numbers: 1, 2, 3 per (book, year), never skipped or reused, across processes.

Each test runs on SQLite and on PostgreSQL (``db_url``); the concurrent tests start
real OS processes that register through ``record_outcome`` at the same time.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections.abc import Sequence
from datetime import datetime
from multiprocessing.synchronize import Event

import pytest
from sqlalchemy import Engine, inspect
from sqlmodel import Session, col, select

from mailbridge.clock import VN_TZ
from mailbridge.codes import Status
from mailbridge.register.db import connect, current_revision, migrate, transaction
from mailbridge.register.models import Counter, DocumentRow, MessageRow
from mailbridge.register.repository import (
    MailToSend,
    NewDocument,
    next_incoming_number,
    record_outcome,
)

BOOK = "VBDEN"
NOW = datetime(2026, 11, 22, 9, 15, tzinfo=VN_TZ)
TABLES = [
    "alembic_version",
    "counters",
    "document_keys",
    "documents",
    "files",
    "messages",
    "outbox",
    "status_events",
]


def sha(text: str) -> str:
    """SHA-256 of ``text`` in hex, as the register keeps hashes."""
    return hashlib.sha256(text.encode()).hexdigest()


def inbound(spool_id: str, *, received_at: datetime = NOW) -> MessageRow:
    """The register row of an accepted inbound message."""
    message_id = f"<{spool_id}@so-tc.example.vn>"
    return MessageRow(
        spool_id=spool_id,
        message_id=message_id,
        message_id_hash=sha(message_id),
        raw_sha256=sha(spool_id),
        received_at=received_at,
        decided_at=received_at,
        sender="vanthu@so-tc.example.vn",
        recipients=["vanthu@bridge.example.vn"],
        subject="Công văn 917-CV/STC",
        agency_code="A32.05",
        verdict="accepted",
    )


def accepted(key: str) -> NewDocument:
    """A document to register at once, with one idempotency key."""
    return NewDocument(
        status=Status.ACCEPTED,
        keys=(f"msgid:{sha(key)}",),
        fields={"agency_code": "A32.05", "subject": "Công văn 917-CV/STC"},
    )


def no_mail(
    _session: Session, _message: MessageRow, _doc: DocumentRow | None, _dup: bool
) -> Sequence[MailToSend]:
    """A composer that answers nothing."""
    return ()


def register(
    engine: Engine, spool_id: str, *, now: datetime = NOW, key: str | None = None
) -> DocumentRow | None:
    """Register one accepted document (keyed by ``key``, else the spool id)."""
    recorded = record_outcome(
        engine,
        inbound(spool_id, received_at=now),
        accepted(key or spool_id),
        book=BOOK,
        now=now,
        compose=no_mail,
    )
    return recorded.document


def numbers(engine: Engine) -> list[int | None]:
    """Every document's incoming number, in registration (id) order."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(DocumentRow.incoming_number).order_by(col(DocumentRow.id))
            ).all()
        )


def test_migrate_twice_is_harmless(engine: Engine) -> None:
    """A second migrate() (every start-up runs one) changes nothing and loses nothing."""
    register(engine, "s1")

    migrate(engine)

    expected = ("0001", TABLES, [1])
    assert expected == (
        current_revision(engine),
        sorted(inspect(engine).get_table_names()),
        numbers(engine),
    )


def test_numbers_run_per_book_and_year_without_gaps(engine: Engine) -> None:
    """Each (book, year) counts 1, 2, 3 on its own."""
    taken = []
    with transaction(engine) as session:
        for book, year in [
            (BOOK, 2026),
            (BOOK, 2026),
            ("VBDEN-DANG", 2026),
            (BOOK, 2027),
            (BOOK, 2026),
            ("VBDEN-DANG", 2026),
        ]:
            taken.append((book, year, next_incoming_number(session, book, year)))

    expected = [
        (BOOK, 2026, 1),
        (BOOK, 2026, 2),
        ("VBDEN-DANG", 2026, 1),
        (BOOK, 2027, 1),
        (BOOK, 2026, 3),
        ("VBDEN-DANG", 2026, 2),
    ]
    assert expected == taken


def test_registered_documents_are_numbered_in_order(engine: Engine) -> None:
    """Accepted documents get 1, 2, 3; the year is Vietnam's (00:30 on 1 Jan is new)."""
    new_year = datetime(2027, 1, 1, 0, 30, tzinfo=VN_TZ)  # still 2026 in UTC

    docs = [register(engine, f"s{n}") for n in range(3)]
    docs.append(register(engine, "s-new-year", now=new_year))

    expected = [(BOOK, 2026, 1), (BOOK, 2026, 2), (BOOK, 2026, 3), (BOOK, 2027, 1)]
    assert expected == [
        (d.book, d.year, d.incoming_number) for d in docs if d is not None
    ]


def test_rolled_back_transaction_gives_its_number_back(engine: Engine) -> None:
    """A number taken in a transaction that fails is handed out again, not skipped."""
    with pytest.raises(RuntimeError), transaction(engine) as session:
        assert next_incoming_number(session, BOOK, 2026) == 1
        raise RuntimeError("crash before commit")

    with transaction(engine) as session:
        again = next_incoming_number(session, BOOK, 2026)

    expected = 1
    assert expected == again


def test_failed_registration_leaves_no_gap(engine: Engine) -> None:
    """When composing the reply fails, the document and its number vanish together."""

    def broken(
        _s: Session, _m: MessageRow, _d: DocumentRow | None, _dup: bool
    ) -> Sequence[MailToSend]:
        raise RuntimeError("template error")

    register(engine, "s1")
    with pytest.raises(RuntimeError, match="template error"):
        record_outcome(
            engine, inbound("s2"), accepted("s2"), book=BOOK, now=NOW, compose=broken
        )
    register(engine, "s3")

    with Session(engine) as session:
        counter = session.get(Counter, (BOOK, 2026))
        spool_ids = session.exec(select(MessageRow.spool_id)).all()
    assert counter is not None
    expected = ([1, 2], 2, ["s1", "s3"])
    assert expected == (numbers(engine), counter.last_number, sorted(spool_ids))


def _register_in_process(
    url: str, worker: int, count: int, start: Event, *, same_documents: bool = False
) -> None:
    """Child process: wait for the others, then register ``count`` documents.

    With ``same_documents`` every worker registers the same documents (as two nodes
    fetching one mailbox would), each from its own spool id.
    """
    engine = connect(url)
    try:
        engine.connect().close()  # connected before the start, so all run at once
        start.wait(30)
        for n in range(count):
            key = f"doc-{n}" if same_documents else None
            register(engine, f"w{worker}-{n}", key=key)
    finally:
        engine.dispose()


def test_concurrent_processes_share_one_gapless_sequence(
    engine: Engine, db_url: str
) -> None:
    """4 processes x 10 registrations at once yield exactly 1..40, no duplicates."""
    engine.dispose()  # no connection of the parent may be inherited by the children
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_register_in_process, args=(db_url, worker, 10, start))
        for worker in range(4)
    ]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=120)
    exit_codes = [proc.exitcode for proc in procs]

    assert [0] * len(procs) == exit_codes
    taken = numbers(engine)
    assert list(range(1, 41)) == sorted(n for n in taken if n is not None)
    assert len(taken) == len(set(taken))


def _migrate_in_process(url: str, start: Event) -> None:
    """Child process: wait for the others, then upgrade the schema."""
    engine = connect(url)
    try:
        engine.connect().close()
        start.wait(30)
        migrate(engine)
    finally:
        engine.dispose()


def test_concurrent_migrations_upgrade_once(db_url: str) -> None:
    """Four nodes starting together on a fresh register all migrate successfully.

    On PostgreSQL this needs the advisory lock: without it the CREATE TABLEs collide.
    """
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [
        ctx.Process(target=_migrate_in_process, args=(db_url, start)) for _ in range(4)
    ]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=120)
    exit_codes = [proc.exitcode for proc in procs]

    engine = connect(db_url)
    try:
        expected = ([0] * len(procs), "0001", TABLES)
        assert expected == (
            exit_codes,
            current_revision(engine),
            sorted(inspect(engine).get_table_names()),
        )
    finally:
        engine.dispose()


def test_same_document_from_concurrent_processes_is_registered_once(
    engine: Engine, db_url: str
) -> None:
    """4 processes registering the same 10 documents: 10 numbers, 30 duplicates."""
    engine.dispose()
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    procs = [
        ctx.Process(
            target=_register_in_process,
            args=(db_url, worker, 10, start),
            kwargs={"same_documents": True},
        )
        for worker in range(4)
    ]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=120)
    exit_codes = [proc.exitcode for proc in procs]

    with Session(engine) as session:
        verdicts = session.exec(select(MessageRow.verdict)).all()
        counter = session.get(Counter, (BOOK, 2026))
    assert counter is not None
    expected = ([0] * 4, list(range(1, 11)), 10, 30, 40)
    assert expected == (
        exit_codes,
        numbers(engine),
        counter.last_number,
        verdicts.count("duplicate"),
        len(verdicts),
    )
