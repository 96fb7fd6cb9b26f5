"""The register's writes and reads: idempotency, duplicates, outbox, statuses, JSON.

Every test runs on SQLite and on PostgreSQL (``db_url``), except the SQLite pragmas.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from mailbridge.clock import VN_TZ
from mailbridge.codes import Status
from mailbridge.errors import IllegalTransition, NotFound
from mailbridge.register.db import connect, migrate
from mailbridge.register.models import (
    Counter,
    DocumentRow,
    MessageRow,
    OutboxRow,
    StatusEvent,
)
from mailbridge.register.queries import (
    count_documents,
    get_document,
    list_documents,
    list_messages,
)
from mailbridge.register.repository import (
    MailToSend,
    NewDocument,
    NewFile,
    change_status,
    record_outcome,
)

BOOK = "VBDEN"
AGENCY = "A32.05"
BRIDGE = "vanthu@bridge.example.vn"
CLERK = "vanthu@so-tc.example.vn"
NOW = datetime(2026, 11, 22, 9, 15, tzinfo=VN_TZ)
PDF = b"%PDF-1.7 signed document 917-CV/STC"
ISO_VN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00$")

#: the fixed core of a document object, SPEC.md section 2
SPEC_DOCUMENT_FIELDS = {
    "id", "incoming_number", "book", "year", "status", "status_label", "agency_code",
    "agency_name", "sender", "recipient", "message_id", "subject", "number_symbol",
    "issue_date", "document_type", "document_type_name", "urgency", "abstract",
    "signer_name", "signer_position", "deadline", "legal_value", "signatures", "dkim",
    "files", "route_to", "tags", "late", "received_at", "history", "supersedes",
    "superseded_by",
}  # fmt: skip


def sha(data: str | bytes) -> str:
    """SHA-256 in hex, as the register keeps hashes."""
    return hashlib.sha256(
        data if isinstance(data, bytes) else data.encode()
    ).hexdigest()


def inbound(
    spool_id: str,
    *,
    message_id: str = "<917@so-tc.example.vn>",
    verdict: str = "accepted",
    received_at: datetime = NOW,
) -> MessageRow:
    """The register row of an inbound message from the Sở Tài chính clerk."""
    return MessageRow(
        spool_id=spool_id,
        message_id=message_id,
        message_id_hash=sha(message_id),
        raw_sha256=sha(spool_id),
        received_at=received_at,
        decided_at=received_at,
        sender=CLERK,
        recipients=[BRIDGE],
        subject="Công văn 917-CV/STC",
        agency_code=AGENCY,
        verdict=verdict,
    )


def document(
    *,
    message_id: str = "<917@so-tc.example.vn>",
    pdf: bytes = PDF,
    agency: str = AGENCY,
    status: Status = Status.ACCEPTED,
) -> NewDocument:
    """A document keyed by its Message-ID and its PDF's hash, with one stored file."""
    return NewDocument(
        status=status,
        keys=(f"msgid:{sha(message_id)}", f"pdf:{sha(pdf)}"),
        fields={
            "agency_code": agency,
            "agency_name": "Sở Tài chính",
            "sender": CLERK,
            "recipient": BRIDGE,
            "message_id": message_id,
            "subject": "Công văn 917-CV/STC",
            "number_symbol": "917-CV/STC",
            "issue_date": "2026-11-20",
            "document_type": "CV",
            "urgency": "khan",
            "abstract": "V/v quyết toán ngân sách năm 2026",
            "signer_name": "Nguyễn Văn An",
            "signer_position": "Giám đốc",
            "deadline": datetime(2026, 11, 30, 17, 0, tzinfo=VN_TZ),
            "legal_value": "legal",
            "signatures": [
                {
                    "state": "valid",
                    "signer": "Nguyễn Văn An",
                    "organisation": "Sở Tài chính",
                    "signing_time": "2026-11-20T08:00:00+07:00",
                }
            ],
            "dkim": {"result": "pass", "domain": "so-tc.example.vn"},
            "route_to": "phong-tong-hop",
            "tags": ["ngan-sach"],
            "pdf_sha256": sha(pdf),
        },
        files=(NewFile("917-CV.pdf", "application/pdf", len(pdf), sha(pdf)),),
    )


class Replies:
    """A composer that answers each message and remembers what it was shown."""

    def __init__(self, *, message_id: str | None = None) -> None:
        self.seen: list[tuple[str, int | None, bool]] = []
        self.message_id = message_id

    def __call__(
        self,
        session: Session,
        message: MessageRow,
        doc: DocumentRow | None,
        duplicate: bool,
    ) -> Sequence[MailToSend]:
        number = doc.incoming_number if doc else None
        self.seen.append((message.spool_id, number, duplicate))
        subject = f"Subject: Da tiep nhan so den {number}\r\n"
        return (
            MailToSend(
                message_id=self.message_id
                or f"<reply-{message.spool_id}@bridge.example.vn>",
                kind="reply",
                mail_from=BRIDGE,
                rcpt_to=(CLERK,),
                raw=(subject + "\r\nDa tiep nhan.\r\n").encode(),
                status_code="accepted",
            ),
        )


def record(
    engine: Engine,
    spool_id: str,
    doc: NewDocument | None,
    compose: Replies,
    *,
    message_id: str = "<917@so-tc.example.vn>",
    at: datetime = NOW,
) -> Any:
    """record_outcome with the usual book, received and decided at ``at``."""
    return record_outcome(
        engine,
        inbound(spool_id, message_id=message_id, received_at=at),
        doc,
        book=BOOK,
        now=at,
        compose=compose,
    )


def outbox(engine: Engine) -> list[OutboxRow]:
    """Every row of the outbox, in insertion order."""
    with Session(engine) as session:
        return list(session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all())


def count(engine: Engine, model: type[Any]) -> int:
    """How many rows ``model``'s table holds."""
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def test_record_outcome_twice_for_one_spool_id_changes_nothing(engine: Engine) -> None:
    """A crash after commit and a second run: already_processed, no second reply."""
    replies = Replies()
    first = record(engine, "s1", document(), replies)

    again = record(engine, "s1", document(), replies)

    expected = (True, False, first.document.id, 1)
    assert expected == (
        again.already_processed,
        again.duplicate,
        again.document.id,
        again.document.incoming_number,
    )
    assert [("s1", 1, False)] == replies.seen
    expected_rows = (1, 1, 1)
    assert expected_rows == (
        count(engine, MessageRow),
        count(engine, DocumentRow),
        count(engine, OutboxRow),
    )


@pytest.mark.parametrize(
    ("message_id", "pdf", "agency", "duplicate"),
    [
        ("<917@so-tc.example.vn>", b"%PDF-1.7 another scan", AGENCY, True),
        ("<resent-917@so-tc.example.vn>", PDF, AGENCY, True),
        ("<917@so-tc.example.vn>", PDF, "A32.09", False),
    ],
    ids=["same-message-id", "same-pdf", "other-agency"],
)
def test_duplicates_are_recognised_per_agency(
    engine: Engine, message_id: str, pdf: bytes, agency: str, duplicate: bool
) -> None:
    """Same Message-ID or PDF from the same agency: the first document, same number."""
    replies = Replies()
    first = record(engine, "s1", document(), replies)

    second = record(
        engine,
        "s2",
        document(message_id=message_id, pdf=pdf, agency=agency),
        replies,
        message_id=message_id,
    )

    if duplicate:
        expected = (True, first.document.id, 1, "duplicate", 1)
    else:
        expected = (False, first.document.id + 1, 2, "accepted", 2)
    assert expected == (
        second.duplicate,
        second.document.id,
        second.document.incoming_number,
        second.message.verdict,
        count(engine, DocumentRow),
    )
    assert [("s1", 1, False), ("s2", expected[2], duplicate)] == replies.seen
    with Session(engine) as session:
        linked = session.exec(
            select(MessageRow.spool_id, MessageRow.document_id).order_by(
                col(MessageRow.id)
            )
        ).all()
    assert [("s1", first.document.id), ("s2", expected[1])] == [
        tuple(r) for r in linked
    ]


def test_replies_land_in_the_outbox_with_the_decision(engine: Engine) -> None:
    """The composed reply is a pending outbox row tied to the message and document."""
    recorded = record(engine, "s1", document(), Replies())

    [row] = outbox(engine)
    expected = {
        "message_id": "<reply-s1@bridge.example.vn>",
        "kind": "reply",
        "status": "pending",
        "mail_from": BRIDGE,
        "rcpt_to": [CLERK],
        "raw": b"Subject: Da tiep nhan so den 1\r\n\r\nDa tiep nhan.\r\n",
        "attempts": 0,
        "next_attempt_at": NOW,
        "document_id": recorded.document.id,
        "message_row_id": recorded.message.id,
        "status_code": "accepted",
    }
    assert expected == {key: getattr(row, key) for key in expected}
    assert "<reply-s1@bridge.example.vn>" == recorded.message.reply_message_id


def test_failed_transaction_leaves_no_reply_and_no_document(engine: Engine) -> None:
    """If the decision cannot commit, nothing of it stays: no row, number or mail."""
    record(engine, "s1", document(), Replies(message_id="<same@bridge.example.vn>"))

    # the second reply reuses a Message-ID: the outbox insert fails, so all of it does
    with pytest.raises(IntegrityError):
        record(
            engine,
            "s2",
            document(message_id="<918@so-tc.example.vn>", pdf=b"%PDF other"),
            Replies(message_id="<same@bridge.example.vn>"),
            message_id="<918@so-tc.example.vn>",
        )

    with Session(engine) as session:
        counter = session.get(Counter, (BOOK, 2026))
        assert counter is not None
        last_number = counter.last_number
    expected = (1, 1, 1, 1, ["<same@bridge.example.vn>"])
    assert expected == (
        count(engine, MessageRow),
        count(engine, DocumentRow),
        last_number,
        count(engine, OutboxRow),
        [row.message_id for row in outbox(engine)],
    )


def history(engine: Engine, document_id: int) -> list[tuple[str, str, str | None]]:
    """A document's status events: (status, actor, note), in order."""
    with Session(engine) as session:
        events = session.exec(
            select(StatusEvent)
            .where(StatusEvent.document_id == document_id)
            .order_by(col(StatusEvent.id))
        ).all()
        return [(e.status, e.actor, e.note) for e in events]


def move(engine: Engine, document_id: int, status: Status, **kwargs: Any) -> Any:
    """change_status by the clerk Trần Thị Bình, an hour after receipt."""
    return change_status(
        engine,
        document_id,
        status,
        actor="Trần Thị Bình",
        note=kwargs.pop("note", None),
        now=kwargs.pop("now", NOW + timedelta(hours=1)),
        book=BOOK,
        **kwargs,
    )


def test_status_changes_follow_the_rules_and_are_recorded(engine: Engine) -> None:
    """accepted → forwarded → in_progress → completed; then nothing but deletion."""
    doc_id = record(engine, "s1", document(), Replies()).document.id

    move(engine, doc_id, Status.FORWARDED, note="Chuyển phòng Tổng hợp")
    move(engine, doc_id, Status.IN_PROGRESS)
    change = move(engine, doc_id, Status.COMPLETED)
    with pytest.raises(IllegalTransition) as refused:
        move(engine, doc_id, Status.FORWARDED)

    expected_error = "cannot change status from completed to forwarded"
    assert expected_error == str(refused.value)
    assert ("in_progress", "completed") == (change.previous, change.document.status)
    assert [
        ("arrived", "mailbridge", None),
        ("accepted", "mailbridge", None),
        ("forwarded", "Trần Thị Bình", "Chuyển phòng Tổng hợp"),
        ("in_progress", "Trần Thị Bình", None),
        ("completed", "Trần Thị Bình", None),
    ] == history(engine, doc_id)
    assert "completed" == get_document(engine, doc_id)["status"]


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ([], Status.IN_PROGRESS),  # a held document must be accepted first
        ([Status.ACCEPTED], Status.ARRIVED),  # no way back
        ([Status.RETURNED], Status.ACCEPTED),  # returned is final
        ([Status.ACCEPTED, Status.RECALL_REQUESTED, Status.RECALLED], Status.FORWARDED),
    ],
    ids=["arrived-to-in_progress", "back-to-arrived", "after-return", "after-recall"],
)
def test_illegal_transition_changes_nothing(
    engine: Engine, path: list[Status], refused: Status
) -> None:
    """A refused change raises IllegalTransition and leaves status and history alone."""
    doc_id = record(
        engine, "s1", document(status=Status.ARRIVED), Replies()
    ).document.id
    for status in path:
        move(engine, doc_id, status)
    before = (get_document(engine, doc_id)["status"], history(engine, doc_id))

    with pytest.raises(IllegalTransition):
        move(engine, doc_id, refused)

    assert before == (get_document(engine, doc_id)["status"], history(engine, doc_id))


def test_admin_may_delete_a_final_document(engine: Engine) -> None:
    """deleted is allowed even from completed; the record stays, marked."""
    doc_id = record(engine, "s1", document(), Replies()).document.id
    move(engine, doc_id, Status.COMPLETED)

    move(engine, doc_id, Status.DELETED, note="nhập nhầm")

    expected = ("deleted", "Xoá", 1)
    shown = get_document(engine, doc_id)
    assert expected == (
        shown["status"],
        shown["status_label"],
        shown["incoming_number"],
    )


def test_recall_voids_the_document(engine: Engine) -> None:
    """accepted → recall_requested → recalled marks the document void."""
    doc_id = record(engine, "s1", document(), Replies()).document.id

    move(engine, doc_id, Status.RECALL_REQUESTED)
    change = move(engine, doc_id, Status.RECALLED)

    expected = ("recalled", True)
    assert expected == (change.document.status, change.document.voided)


def test_unknown_document_is_not_found(engine: Engine) -> None:
    """Changing or showing a document that does not exist raises NotFound."""
    with pytest.raises(NotFound, match="no document 4242"):
        move(engine, 4242, Status.FORWARDED)
    with pytest.raises(NotFound, match="no document 4242"):
        get_document(engine, 4242)


def test_releasing_a_held_document_assigns_the_next_number(engine: Engine) -> None:
    """A held (arrived) document has no number until released; then it takes the next."""
    record(engine, "s1", document(), Replies())
    held = record(
        engine,
        "s2",
        document(
            message_id="<held@so-tc.example.vn>",
            pdf=b"%PDF held",
            status=Status.ARRIVED,
        ),
        Replies(),
        message_id="<held@so-tc.example.vn>",
    )
    record(
        engine,
        "s3",
        document(message_id="<919@so-tc.example.vn>", pdf=b"%PDF 919"),
        Replies(),
        message_id="<919@so-tc.example.vn>",
    )
    assert (None, None) == (held.document.incoming_number, held.document.registered_at)
    released_at = datetime(2026, 11, 23, 8, 0, tzinfo=VN_TZ)

    def notice(
        _session: Session, row: DocumentRow, event: StatusEvent
    ) -> Sequence[MailToSend]:
        raw = f"Subject: {event.status} {row.incoming_number}\r\n\r\n.\r\n".encode()
        return (
            MailToSend(
                "<notice-s2@bridge.example.vn>", "notice", BRIDGE, (CLERK,), raw
            ),
        )

    change = move(
        engine,
        held.document.id,
        Status.ACCEPTED,
        now=released_at,
        compose=notice,
        message_update={"verdict": "accepted"},
    )

    expected = ("arrived", "accepted", 3, released_at)
    assert expected == (
        change.previous,
        change.document.status,
        change.document.incoming_number,
        change.document.registered_at,
    )
    shown = get_document(engine, held.document.id)
    assert "2026-11-23T08:00:00+07:00" == shown["registered_at"]
    notices = [(r.message_id, r.raw) for r in outbox(engine) if r.kind == "notice"]
    assert [
        ("<notice-s2@bridge.example.vn>", b"Subject: accepted 3\r\n\r\n.\r\n")
    ] == notices
    with Session(engine) as session:
        verdict = session.exec(
            select(MessageRow.verdict).where(MessageRow.spool_id == "s2")
        ).one()
    assert "accepted" == verdict


def test_document_json_has_every_spec_field_in_vietnam_time(engine: Engine) -> None:
    """list_documents/get_document give the SPEC section 2 object with +07:00 times."""
    first = record(engine, "s1", document(), Replies()).document.id
    move(engine, first, Status.FORWARDED, note="Chuyển phòng Tổng hợp")
    second = record(
        engine,
        "s2",
        document(message_id="<918@so-tc.example.vn>", pdf=b"%PDF 918"),
        Replies(),
        message_id="<918@so-tc.example.vn>",
    ).document.id

    listed = list_documents(engine)

    assert [second, first] == [d["id"] for d in listed]  # newest first
    shown = get_document(engine, first)
    assert listed[1] == shown
    assert set() == SPEC_DOCUMENT_FIELDS - set(shown)
    expected = {
        "incoming_number": 1,
        "book": BOOK,
        "year": 2026,
        "status": "forwarded",
        "status_label": "Đã chuyển xử lý",
        "agency_code": AGENCY,
        "agency_name": "Sở Tài chính",
        "number_symbol": "917-CV/STC",
        "issue_date": "2026-11-20",
        "document_type": "CV",
        "document_type_name": "Công văn",
        "urgency": "khan",
        "deadline": "2026-11-30T17:00:00+07:00",
        "legal_value": "legal",
        "dkim": {"result": "pass", "domain": "so-tc.example.vn"},
        "late": False,
        "received_at": "2026-11-22T09:15:00+07:00",
        "registered_at": "2026-11-22T09:15:00+07:00",
        "supersedes": None,
        "superseded_by": None,
        "files": [
            {
                "name": "917-CV.pdf",
                "content_type": "application/pdf",
                "size": len(PDF),
                "sha256": sha(PDF),
                "role": "document",
            }
        ],
        "history": [
            {
                "status": "arrived",
                "at": "2026-11-22T09:15:00+07:00",
                "actor": "mailbridge",
                "note": None,
            },
            {
                "status": "accepted",
                "at": "2026-11-22T09:15:00+07:00",
                "actor": "mailbridge",
                "note": None,
            },
            {
                "status": "forwarded",
                "at": "2026-11-22T10:15:00+07:00",
                "actor": "Trần Thị Bình",
                "note": "Chuyển phòng Tổng hợp",
            },
        ],
    }
    assert expected == {key: shown[key] for key in expected}
    assert {"state", "signer", "organisation", "signing_time"} == set(
        shown["signatures"][0]
    )
    times = [shown["received_at"], shown["deadline"]] + [
        h["at"] for h in shown["history"]
    ]
    assert [True] * len(times) == [bool(ISO_VN.match(t)) for t in times]


def test_sqlite_register_uses_wal_and_secure_delete(tmp_path: Path) -> None:
    """SQLite runs in WAL mode with secure_delete, so deleted content is overwritten."""
    db = tmp_path / "register.db"
    engine = connect(f"sqlite:///{db}")
    try:
        migrate(engine)
        with engine.connect() as conn:
            modes = (
                conn.execute(text("PRAGMA journal_mode")).scalar_one(),
                conn.execute(text("PRAGMA secure_delete")).scalar_one(),
            )
        marker = "TUYỆT MẬT marker 7f3a9c"
        record(engine, "s1", None, Replies())
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE messages SET subject = :s WHERE spool_id = 's1'"),
                {"s": marker},
            )
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM outbox"))
            conn.execute(text("DELETE FROM messages"))
    finally:
        engine.dispose()  # the last connection to close checkpoints the WAL

    expected = (("wal", 1), False)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("register.db*"))
    assert expected == (modes, marker.encode() in on_disk)


def test_document_list_filters_and_pages(engine: Engine) -> None:
    """--status, --since (a Vietnam date), agency and --limit narrow the list."""
    ids = []
    for n, agency in enumerate([AGENCY, AGENCY, "A32.09"]):
        message_id = f"<{920 + n}@so-tc.example.vn>"
        doc = document(message_id=message_id, pdf=f"%PDF {n}".encode(), agency=agency)
        ids.append(record(engine, f"s{n}", doc, Replies(), message_id=message_id))
    first, second, third = (r.document.id for r in ids)
    move(engine, second, Status.FORWARDED)

    def listed(**kwargs: Any) -> list[int]:
        return [d["id"] for d in list_documents(engine, **kwargs)]

    expected = {
        "all": [third, second, first],
        "forwarded": [second],
        "agency": [third],
        "since-received": [third, second, first],
        "since-next-day": [],
        "limit": [third],
        "offset": [second, first],
        "count": 2,
    }
    assert expected == {
        "all": listed(),
        "forwarded": listed(status="forwarded"),
        "agency": listed(agency="A32.09"),
        "since-received": listed(since=date(2026, 11, 22)),
        "since-next-day": listed(since=date(2026, 11, 23)),
        "limit": listed(limit=1),
        "offset": listed(offset=1),
        "count": count_documents(engine, agency=AGENCY),
    }


def test_message_list_shows_every_inbound_message_with_its_verdict(
    engine: Engine,
) -> None:
    """messages list: newest first, the duplicate pointing at the first document."""
    first = record(engine, "s1", document(), Replies())
    record(engine, "s2", document(), Replies())
    record(engine, "s3", None, Replies(), message_id="<spam@example.com>")

    listed = list_messages(engine)

    doc_id = first.document.id
    expected = [
        ("s3", "<spam@example.com>", "accepted", None),
        ("s2", "<917@so-tc.example.vn>", "duplicate", doc_id),
        ("s1", "<917@so-tc.example.vn>", "accepted", doc_id),
    ]
    assert expected == [
        (m["spool_id"], m["message_id"], m["verdict"], m["document_id"]) for m in listed
    ]
    spec_fields = {
        "id", "message_id", "received_at", "sender", "recipients", "subject",
        "verdict", "reason", "document_id",
    }  # fmt: skip
    assert set() == spec_fields - set(listed[0])
    expected_first = ("2026-11-22T09:15:00+07:00", CLERK, [BRIDGE])
    assert expected_first == (
        listed[2]["received_at"],
        listed[2]["sender"],
        listed[2]["recipients"],
    )


def test_since_is_a_day_in_vietnam_time(engine: Engine) -> None:
    """--since 2026-11-22 includes 00:30 that day in Hà Nội (17:30 the day before UTC)."""
    early = datetime(2026, 11, 22, 0, 30, tzinfo=VN_TZ)
    late_evening = datetime(2026, 11, 21, 23, 30, tzinfo=VN_TZ)
    kept = record(engine, "s1", document(), Replies(), at=early).document.id
    record(
        engine,
        "s0",
        document(message_id="<916@so-tc.example.vn>", pdf=b"%PDF 916"),
        Replies(),
        message_id="<916@so-tc.example.vn>",
        at=late_evening,
    )

    listed = list_documents(engine, since=date(2026, 11, 22))

    expected = [(kept, "2026-11-22T00:30:00+07:00")]
    assert expected == [(d["id"], d["received_at"]) for d in listed]
