"""Composed replies and security alerts, read back from their bytes as a mail client would."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest

from mailbridge.clock import VN_TZ
from mailbridge.codes import Reason, Status
from mailbridge.reply.compose import (
    AlertFacts,
    BridgeIdentity,
    ReplyFacts,
    compose_reply,
    compose_security_alert,
    make_message_id,
)
from mailbridge.reply.render import Renderer

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
IDENTITY = BridgeIdentity(
    name="Văn phòng Tỉnh ủy — cổng thư công vụ",
    from_address="vanthu@bridge.example.vn",
    domain="bridge.example.vn",
)
NOW = datetime(2026, 11, 22, 2, 15, 42, tzinfo=UTC)  # 09:15:42 in Vietnam
RECEIVED = datetime(2026, 11, 22, 9, 15, 0, tzinfo=VN_TZ)
REPLY_ID = "<0123456789abcdef0123456789abcdef@bridge.example.vn>"
DOCUMENT: dict[str, Any] = {
    "id": 42,
    "number_symbol": "917-CV/VPTU",
    "abstract": "chuẩn bị hội nghị sơ kết",
    "legal_value": "legal",
    "signatures": [{"state": "valid", "signer": "Nguyễn Văn An"}],
    "route_to": "chanh-van-phong",
    "deadline": datetime(2026, 11, 22, 13, 15, tzinfo=VN_TZ),
}


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    """A renderer over the shipped templates."""
    return Renderer(TEMPLATES)


def accepted(**changes: Any) -> ReplyFacts:
    """The facts of a registered document's acceptance; ``changes`` override."""
    values: dict[str, Any] = {
        "status": Status.ACCEPTED,
        "to": "vanthu@phanrang.example.vn",
        "original_message_id": "m1@phanrang.example.vn",
        "original_subject": "Công văn 917-CV/VPTU về việc chuẩn bị hội nghị",
        "received_at": RECEIVED,
        "document_id": 42,
        "incoming_number": 7,
        "book": "VBĐ",
        "year": 2026,
        "agency_code": "A32.01.07",
        "agency_name": "Đảng ủy phường Phan Rang",
        "document": DOCUMENT,
    }
    values.update(changes)
    return ReplyFacts(**values)


def read_back(msg: EmailMessage) -> EmailMessage:
    """Serialise ``msg`` to bytes and parse them again, as the receiver does."""
    parsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert isinstance(parsed, EmailMessage)
    return parsed


def parts(msg: EmailMessage) -> tuple[str, dict[str, Any], str | None]:
    """The text, the decoded JSON and the JSON part's file name."""
    text_part, json_part = list(msg.iter_parts())
    expected = ("text/plain", "application/json")
    assert expected == (
        text_part.get_content_type(),
        json_part.get_content_type(),
    )
    return (
        text_part.get_content(),
        json.loads(json_part.get_content()),
        json_part.get_filename(),
    )


def reply(renderer: Renderer, item: ReplyFacts) -> EmailMessage:
    """Compose ``item`` and read it back."""
    return read_back(
        compose_reply(
            item, identity=IDENTITY, renderer=renderer, message_id=REPLY_ID, now=NOW
        )
    )


def test_accepted_reply_headers(renderer: Renderer) -> None:
    """An acceptance carries exactly the SPEC section 6 headers, in order."""
    msg = reply(renderer, accepted())
    expected = [
        ("From", "Văn phòng Tỉnh ủy — cổng thư công vụ <vanthu@bridge.example.vn>"),
        ("To", "vanthu@phanrang.example.vn"),
        (
            "Subject",
            "Đã tiếp nhận văn bản, số đến 7: Công văn 917-CV/VPTU về việc chuẩn bị hội nghị",
        ),
        ("Date", "Sun, 22 Nov 2026 09:15:42 +0700"),
        ("Message-ID", REPLY_ID),
        ("In-Reply-To", "<m1@phanrang.example.vn>"),
        ("References", "<m1@phanrang.example.vn>"),
        ("Auto-Submitted", "auto-replied"),
        ("X-Mailbridge-Status", "accepted"),
        ("X-Mailbridge-Document-Id", "42"),
        ("X-Mailbridge-Incoming-Number", "7"),
        ("MIME-Version", "1.0"),
    ]
    assert expected == [(k, str(v)) for k, v in msg.items() if k != "Content-Type"]
    expected_type = "multipart/mixed"
    assert expected_type == msg.get_content_type()


def test_subject_is_rfc2047_encoded_on_the_wire(renderer: Renderer) -> None:
    """The Vietnamese subject travels as UTF-8 encoded words, not raw 8-bit."""
    raw = compose_reply(
        accepted(), identity=IDENTITY, renderer=renderer, message_id=REPLY_ID, now=NOW
    ).as_bytes()
    head = raw.split(b"\n\n", 1)[0]
    expected = (True, True)
    assert expected == (b"Subject: =?utf-8?" in head, head.isascii())


@pytest.mark.parametrize(
    "subject",
    [
        "Từ chối nhận (trả lại): thư có dấu chỉ độ mật",
        "Công văn số 917-CV/VPTU ngày 20/11/2026 của Văn phòng Tỉnh ủy Khánh Hòa về việc "
        "chuẩn bị hội nghị sơ kết công tác văn thư, lưu trữ năm 2026",
        "Kế hoạch",
        "Báo cáo   quý IV",
    ],
)
@pytest.mark.parametrize(
    "bridge_name",
    [
        "Văn phòng Tỉnh ủy — cổng thư công vụ",
        "Mailbridge",
        "Đảng ủy Khối các cơ quan tỉnh Khánh Hòa, cổng thư công vụ",
    ],
)
def test_vietnamese_subject_and_name_survive_folding(
    renderer: Renderer, subject: str, bridge_name: str
) -> None:
    """Every space of a long Vietnamese subject and bridge name survives the wire."""
    identity = BridgeIdentity(bridge_name, IDENTITY.from_address, IDENTITY.domain)
    item = accepted(status=Status.ARRIVED, original_subject=subject)
    msg = read_back(
        compose_reply(
            item, identity=identity, renderer=renderer, message_id=REPLY_ID, now=NOW
        )
    )
    expected_subject = " ".join(
        f"Đã nhận thư, văn bản đang chờ kiểm tra: {subject}".split()
    )
    assert (expected_subject, bridge_name, "vanthu@bridge.example.vn") == (
        str(msg["Subject"]),
        msg["From"].addresses[0].display_name,
        msg["From"].addresses[0].addr_spec,
    )


def test_accepted_reply_text_and_json(renderer: Renderer) -> None:
    """The text tells the clerk the number; the JSON part carries the same facts."""
    text, data, filename = parts(reply(renderer, accepted()))
    expected_head = (
        "mailbridge-status.json",
        "Kính gửi: Văn thư Đảng ủy phường Phan Rang (mã định danh A32.01.07)",
    )
    assert expected_head == (filename, text.splitlines()[0])
    expected_lines = [
        "Trạng thái: Đã tiếp nhận [accepted]",
        "- Số đến: 7, sổ VBĐ, năm 2026",
        "- Trích yếu: chuẩn bị hội nghị sơ kết",
        "- Chữ ký số 1: hợp lệ; người ký: Nguyễn Văn An",
        "- Hạn xử lý: 2026-11-22T13:15:00+07:00",
        "- Mã thư (Message-ID): <m1@phanrang.example.vn>",
        "- Thời điểm cổng nhận thư: 2026-11-22T09:15:00+07:00",
        "- Thời điểm xử lý: 2026-11-22T09:15:42+07:00",
    ]
    assert expected_lines == [
        line for line in expected_lines if line in text.splitlines()
    ]
    expected = {
        "status": "accepted",
        "status_label": "Đã tiếp nhận",
        "reason": None,
        "reason_detail": "",
        "rule": None,
        "document_id": 42,
        "incoming_number": 7,
        "book": "VBĐ",
        "year": 2026,
        "duplicate": False,
        "original_message_id": "m1@phanrang.example.vn",
        "received_at": "2026-11-22T09:15:00+07:00",
        "decided_at": "2026-11-22T09:15:42+07:00",
        "agency_code": "A32.01.07",
        "agency_name": "Đảng ủy phường Phan Rang",
        "note": None,
        "actor": None,
        "document": {**DOCUMENT, "deadline": "2026-11-22T13:15:00+07:00"},
    }
    assert expected == data


def test_returned_reply_before_registration(renderer: Renderer) -> None:
    """A message returned at once: reason header, no register headers, the fix in the text."""
    item = accepted(
        status=Status.RETURNED,
        reason=Reason.DKIM_MISSING,
        reason_detail="không có trường DKIM-Signature",
        document_id=None,
        incoming_number=None,
        book=None,
        year=None,
        document=None,
    )
    msg = reply(renderer, item)
    headers = {k: str(v) for k, v in msg.items() if k.startswith("X-Mailbridge-")}
    expected_headers = {
        "X-Mailbridge-Status": "returned",
        "X-Mailbridge-Reason": "DKIM_MISSING",
    }
    assert expected_headers == headers
    expected_subject = "Từ chối nhận (trả lại) [DKIM_MISSING]: Công văn 917-CV/VPTU về việc chuẩn bị hội nghị"
    assert expected_subject == str(msg["Subject"])
    text, data, _ = parts(msg)
    expected_text = (True, True, True)
    assert expected_text == (
        "Chi tiết: không có trường DKIM-Signature" in text,
        "công bố khóa công khai DKIM trên DNS" in text,
        "Thông tin văn bản:" not in text,
    )
    expected_json = ("returned", "DKIM_MISSING", None)
    assert expected_json == (data["status"], data["reason"], data["document"])


def test_duplicate_reply(renderer: Renderer) -> None:
    """A repeat of a registered document says so in a header, the subject and the JSON."""
    msg = reply(renderer, accepted(duplicate=True))
    _, data, _ = parts(msg)
    expected = ("yes", "7", True)
    assert expected == (
        str(msg["X-Mailbridge-Duplicate"]),
        str(msg["X-Mailbridge-Incoming-Number"]),
        data["duplicate"],
    )
    assert str(msg["Subject"]).startswith(
        "Văn bản đã được tiếp nhận trước đó, số đến 7"
    )


def test_reply_without_original_message_id(renderer: Renderer) -> None:
    """With no original Message-ID, In-Reply-To and References are left out."""
    msg = reply(renderer, accepted(original_message_id=None))
    expected = (None, None)
    assert expected == (msg["In-Reply-To"], msg["References"])
    assert "- Mã thư (Message-ID): (thư không có Message-ID)" in parts(msg)[0]


def test_bracketed_original_message_id_is_not_doubled(renderer: Renderer) -> None:
    """An original Message-ID given with brackets appears once bracketed."""
    msg = reply(renderer, accepted(original_message_id="<m1@phanrang.example.vn>"))
    expected = "<m1@phanrang.example.vn>"
    assert expected == str(msg["In-Reply-To"])


def test_status_notice(renderer: Renderer) -> None:
    """A later status change uses the notice template, with actor and note."""
    item = accepted(
        status=Status.FORWARDED,
        notice=True,
        actor="Trần Thị Bình",
        note="Chuyển Ban Tổ chức",
    )
    msg = reply(renderer, item)
    text, data, _ = parts(msg)
    expected_headers = (
        "Thông báo trạng thái văn bản số 917-CV/VPTU: Đã chuyển xử lý",
        "forwarded",
    )
    assert expected_headers == (str(msg["Subject"]), str(msg["X-Mailbridge-Status"]))
    expected_lines = [
        "Người thực hiện: Trần Thị Bình",
        "Ghi chú: Chuyển Ban Tổ chức",
        "Văn bản đã được chuyển tới chanh-van-phong để xử lý. Cổng sẽ thông báo khi văn bản được xử lý xong.",
    ]
    assert expected_lines == [
        line for line in text.splitlines() if line in expected_lines
    ]
    expected_json = ("Trần Thị Bình", "Chuyển Ban Tổ chức")
    assert expected_json == (data["actor"], data["note"])


def test_recall_reply_without_notice_flag_uses_notice_template(
    renderer: Renderer,
) -> None:
    """A verdict-style reply with a non-verdict status (recalled) falls back to notice/."""
    msg = reply(renderer, accepted(status=Status.RECALLED))
    assert "Văn bản đã được thu hồi theo đề nghị của cơ quan" in parts(msg)[0]


def test_classified_reply_repeats_nothing_of_the_message(renderer: Renderer) -> None:
    """The CLASSIFIED reply carries no subject, document or detail, even if given."""
    item = accepted(
        status=Status.RETURNED,
        reason=Reason.CLASSIFIED,
        original_subject="Kế hoạch bảo vệ Đại hội (TUYỆT MẬT)",
        reason_detail="dấu TUYỆT MẬT trên trang 1: Kế hoạch bảo vệ",
        document={"abstract": "Kế hoạch bảo vệ Đại hội"},
        document_id=None,
        incoming_number=None,
    )
    msg = reply(renderer, item)
    text, data, _ = parts(msg)
    expected = ("Từ chối nhận (trả lại): thư có dấu chỉ độ mật", "", None)
    assert expected == (str(msg["Subject"]), data["reason_detail"], data["document"])
    everything = str(msg) + text + json.dumps(data, ensure_ascii=False)
    assert "Kế hoạch bảo vệ" not in everything


def test_naive_time_is_refused(renderer: Renderer) -> None:
    """A naive 'now' is a programming error, not a reply with a guessed zone."""
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        compose_reply(
            accepted(),
            identity=IDENTITY,
            renderer=renderer,
            message_id=REPLY_ID,
            now=datetime(2026, 11, 22, 9, 0),  # noqa: DTZ001 - the naive value under test
        )


def test_make_message_id() -> None:
    """Message-IDs are bracketed uuid4 hex at the bridge's domain, never repeated."""
    first, second = (
        make_message_id("bridge.example.vn"),
        make_message_id("bridge.example.vn"),
    )
    pattern = r"<[0-9a-f]{32}@bridge\.example\.vn>"
    expected = (True, True, False)
    assert expected == (
        bool(re.fullmatch(pattern, first)),
        bool(re.fullmatch(pattern, second)),
        first == second,
    )


SECRET_SUBJECT = "Kế hoạch bảo vệ Đại hội XV - TUYỆT MẬT"
SECRET_TEXT = "Phương án A: lực lượng tại điểm số 3"
SECRET_FILENAME = "ke-hoach-bao-ve-dai-hoi.pdf"


def alert(renderer: Renderer, **changes: Any) -> EmailMessage:
    """A security alert for a message whose file name and subject hold secrets."""
    values: dict[str, Any] = {
        "to": "antoan@bridge.example.vn",
        "identity": IDENTITY,
        "renderer": renderer,
        "message_id": "<alert1@bridge.example.vn>",
        "now": NOW,
        "sender": f"{SECRET_SUBJECT} <vanthu@phanrang.example.vn>",
        "envelope_sender": "vanthu@phanrang.example.vn",
        "original_message_id": "m9@phanrang.example.vn",
        "raw_sha256": "A" * 64,
        "attachment_hashes": [
            (SECRET_FILENAME, "b" * 64),
            ("application/pdf", "c" * 64),
        ],
        "level": "TUYỆT MẬT",
        "sources": ["subject", "pdf:page-1", SECRET_TEXT],
        "received_at": RECEIVED,
    }
    values.update(changes)
    envelope = {
        k: values.pop(k) for k in ("to", "identity", "renderer", "message_id", "now")
    }
    return read_back(compose_security_alert(AlertFacts(**values), **envelope))


def test_security_alert_headers_and_facts(renderer: Renderer) -> None:
    """The alert names the level, sources, senders and hashes."""
    msg = alert(renderer)
    expected_headers = {
        "To": "antoan@bridge.example.vn",
        "Message-ID": "<alert1@bridge.example.vn>",
        "Auto-Submitted": "auto-generated",
        "X-Mailbridge-Alert": "classified",
        "X-Mailbridge-Reason": "CLASSIFIED",
        "Subject": "[CẢNH BÁO AN NINH] Văn phòng Tỉnh ủy — cổng thư công vụ đã chặn một thư có dấu chỉ độ mật (TUYỆT MẬT)",
    }
    assert expected_headers == {k: str(msg[k]) for k in expected_headers}
    assert None is msg["In-Reply-To"]
    text, data, filename = parts(msg)
    expected_filename = "mailbridge-alert.json"
    assert expected_filename == filename
    expected_lines = [
        "- Độ mật phát hiện: TUYỆT MẬT (tuyet_mat)",
        "- Phát hiện tại: subject, pdf:page-1",
        "- Người gửi (From): vanthu@phanrang.example.vn",
        "- Toàn bộ thư: " + "a" * 64,
        "- Tệp đính kèm 1: " + "b" * 64,
        "- Tệp đính kèm 2 (application/pdf): " + "c" * 64,
    ]
    assert expected_lines == [
        line for line in expected_lines if line in text.splitlines()
    ]
    expected = {
        "alert": "classified",
        "level": "tuyet_mat",
        "level_label": "TUYỆT MẬT",
        "sources": ["subject", "pdf:page-1"],
        "sender": "vanthu@phanrang.example.vn",
        "envelope_sender": "vanthu@phanrang.example.vn",
        "original_message_id": "m9@phanrang.example.vn",
        "raw_sha256": "a" * 64,
        "attachments": [
            {"index": 1, "content_type": None, "sha256": "b" * 64},
            {"index": 2, "content_type": "application/pdf", "sha256": "c" * 64},
        ],
        "received_at": "2026-11-22T09:15:00+07:00",
        "detected_at": "2026-11-22T09:15:42+07:00",
    }
    assert expected == data


def test_security_alert_holds_no_byte_of_the_document(renderer: Renderer) -> None:
    """Neither the subject, the document text nor a file name reaches the alert."""
    msg = alert(renderer)
    raw = msg.as_bytes()
    text, data, _ = parts(msg)
    decoded = str(msg) + text + json.dumps(data, ensure_ascii=False)
    leaks = [
        s
        for s in (
            SECRET_SUBJECT,
            "Kế hoạch bảo vệ",
            SECRET_TEXT,
            "Phương án",
            SECRET_FILENAME,
        )
        if s in decoded or s.encode("utf-8") in raw
    ]
    expected: list[str] = []
    assert expected == leaks


def test_security_alert_refuses_a_non_hash(renderer: Renderer) -> None:
    """Something that is not a SHA-256 digest never enters the alert."""
    with pytest.raises(ValueError, match="attachment hash is not a SHA-256 hex digest"):
        alert(renderer, attachment_hashes=[("application/pdf", SECRET_TEXT)])


def test_reply_message_id_is_bracketed(renderer: Renderer) -> None:
    """A Message-ID handed over without brackets is written with them."""
    msg = read_back(
        compose_reply(
            accepted(),
            identity=IDENTITY,
            renderer=renderer,
            message_id="fixed1@bridge.example.vn",
            now=NOW,
        )
    )
    expected = "<fixed1@bridge.example.vn>"
    assert expected == str(msg["Message-ID"])


def test_reason_header_only_on_returned(renderer: Renderer) -> None:
    """A held message (arrived) keeps its reason in the JSON, not in X-Mailbridge-Reason."""
    item = accepted(
        status=Status.ARRIVED,
        reason=Reason.RULE,
        rule="giu-lai-de-kiem-tra",
        document_id=None,
        incoming_number=None,
    )
    msg = reply(renderer, item)
    _, data, _ = parts(msg)
    expected = (None, "arrived", "RULE", "giu-lai-de-kiem-tra")
    assert expected == (
        msg["X-Mailbridge-Reason"],
        str(msg["X-Mailbridge-Status"]),
        data["reason"],
        data["rule"],
    )
