"""Template rendering: the environment's settings, and every shipped template rendered."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import pytest

from mailbridge.clock import VN_TZ
from mailbridge.codes import Reason, Status
from mailbridge.reply.compose import (
    AlertFacts,
    BridgeIdentity,
    ReplyFacts,
    alert_context,
    template_context,
)
from mailbridge.reply.render import REQUIRED_TEMPLATES, Renderer

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
IDENTITY = BridgeIdentity(
    name="Văn phòng Tỉnh ủy — cổng thư công vụ",
    from_address="vanthu@bridge.example.vn",
    domain="bridge.example.vn",
)
NOW = datetime(2026, 11, 22, 9, 15, 42, tzinfo=VN_TZ)
RECEIVED = datetime(2026, 11, 22, 9, 15, 0, tzinfo=VN_TZ)
DOCUMENT: dict[str, Any] = {
    "number_symbol": "917-CV/VPTU",
    "issue_date": "2026-11-20",
    "document_type": "CV",
    "document_type_name": "Công văn",
    "urgency": "khan",
    "abstract": "chuẩn bị hội nghị sơ kết",
    "signer_name": "Nguyễn Văn An",
    "legal_value": "legal",
    "signatures": [
        {
            "state": "valid",
            "signer": "Nguyễn Văn An",
            "organisation": "Tỉnh ủy Khánh Hòa (TEST)",
            "signing_time": "2026-11-20T08:00:00+07:00",
        }
    ],
    "route_to": "chanh-van-phong",
    "deadline": "2026-11-22T13:15:00+07:00",
}


def facts(status: Status, **changes: Any) -> ReplyFacts:
    """Full facts of a registered document; ``changes`` override any field."""
    values: dict[str, Any] = {
        "status": status,
        "to": "vanthu@phanrang.example.vn",
        "original_message_id": "m1@phanrang.example.vn",
        "original_subject": "Công văn 917-CV/VPTU",
        "received_at": RECEIVED,
        "reason": None,
        "reason_detail": "chữ ký 1: chứng thư hết hạn",
        "rule": "tu-choi-thu-nghiem",
        "document_id": 42,
        "incoming_number": 7,
        "book": "VBĐ",
        "year": 2026,
        "agency_code": "A32.01.07",
        "agency_name": "Đảng ủy phường Phan Rang",
        "note": "Đã trình lãnh đạo",
        "actor": "Trần Thị Bình",
        "document": DOCUMENT,
    }
    values.update(changes)
    return ReplyFacts(**values)


def reply_context(item: ReplyFacts) -> dict[str, Any]:
    """The context the composer passes to reply templates."""
    return template_context(item, identity=IDENTITY, now=NOW)


def full_alert_context() -> dict[str, Any]:
    """The context the composer passes to alert templates."""
    return alert_context(
        AlertFacts(
            sender="vanthu@phanrang.example.vn",
            envelope_sender="bounce@phanrang.example.vn",
            original_message_id="<m1@phanrang.example.vn>",
            raw_sha256="a" * 64,
            attachment_hashes=[("application/pdf", "b" * 64)],
            level="tuyet_mat",
            sources=["subject", "pdf:page-1"],
            received_at=RECEIVED,
        ),
        identity=IDENTITY,
        now=NOW,
    )


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    """A renderer over the shipped templates."""
    return Renderer(TEMPLATES)


def assert_clean(text: str) -> None:
    """Rendered text is NFC, non-empty, with no leaked None or template syntax."""
    assert unicodedata.normalize("NFC", text) == text
    assert text.strip()
    expected: list[str] = []
    assert expected == [m for m in ("None", "{{", "{%", "}}") if m in text]


def test_shipped_templates_all_load(renderer: Renderer) -> None:
    """check() finds every required template present and parsing."""
    expected: list[str] = []
    assert expected == renderer.check()


def test_template_files_are_nfc() -> None:
    """Every template file on disk is Unicode NFC."""
    not_nfc = [
        p.name
        for p in TEMPLATES.rglob("*.j2")
        if unicodedata.normalize("NFC", p.read_text("utf-8")) != p.read_text("utf-8")
    ]
    expected: list[str] = []
    assert expected == not_nfc


def test_every_template_renders_with_full_context(renderer: Renderer) -> None:
    """Every .j2 file renders under StrictUndefined with the composer's full context."""
    context = reply_context(facts(Status.RETURNED, reason=Reason.RULE))
    alert = full_alert_context()
    names = renderer.env.list_templates(extensions=["j2"])
    assert set(REQUIRED_TEMPLATES) <= set(names)
    for name in names:
        text = renderer.render(
            name, **(alert if name.startswith("alert/") else context)
        )
        assert_clean(text)


@pytest.mark.parametrize("notice", [False, True])
@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("registered", [True, False])
def test_every_status_renders(
    renderer: Renderer, status: Status, *, notice: bool, registered: bool
) -> None:
    """Subject and body render for every status, as verdict and as notice."""
    empty: dict[str, Any] = {
        "document_id": None,
        "incoming_number": None,
        "document": None,
    }
    item = facts(status, notice=notice, **({} if registered else empty))
    context = reply_context(item)
    subject = renderer.render("reply/subject.txt.j2", **context)
    body = renderer.render(item.template, **context)
    assert_clean(subject)
    assert_clean(body)
    assert context["status_label"] in subject + body


@pytest.mark.parametrize("notice", [False, True])
@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_renders_in_returned(
    renderer: Renderer, reason: Reason, *, notice: bool
) -> None:
    """The returned reply and notice render, with the reason code shown, for every reason."""
    item = facts(Status.RETURNED, reason=reason, notice=notice)
    body = renderer.render(item.template, **reply_context(item))
    assert_clean(body)
    assert f"mã lý do: {reason}" in body


WHAT_TO_DO = {
    Reason.UNKNOWN_SENDER: "gửi lại văn bản từ địa chỉ thư công vụ đã đăng ký",
    Reason.WRONG_RECIPIENT: "kiểm tra lại địa chỉ người nhận",
    Reason.DKIM_MISSING: "công bố khóa công khai DKIM trên DNS",
    Reason.DKIM_FAIL: "kiểm tra khóa DKIM đã công bố trên DNS",
    Reason.PGP_FAIL: "ký lại thư bằng khóa OpenPGP đã đăng ký",
    Reason.NO_DOCUMENT: "đính kèm văn bản dạng tệp PDF đã ký số",
    Reason.UNSIGNED: "chứng thư số chuyên dùng công vụ",
    Reason.SIGNATURE_INVALID: "ký số lại văn bản từ bản gốc",
    Reason.SIGNATURE_UNTRUSTED: "chứng thư số chuyên dùng công vụ còn hiệu lực",
    Reason.DOCUMENT_MODIFIED: "gửi lại đúng tệp đã ký",
    Reason.CLASSIFIED: "chỉ được chuyển qua kênh của ngành cơ yếu",
    Reason.BANNED_ATTACHMENT: "gỡ tệp chạy được khỏi thư",
    Reason.MALWARE: "quét virus máy tính đã gửi thư",
    Reason.TOO_LARGE: "giảm dung lượng tệp trước khi ký số",
    Reason.MALFORMED: "gửi lại thư bằng phần mềm thư điện tử thông thường",
    Reason.RULE: "quy tắc «tu-choi-thu-nghiem»",
    Reason.RECALL_UNKNOWN: 'tiêu đề bắt đầu bằng "THU HỒI"',
}


@pytest.mark.parametrize("reason", list(Reason))
def test_each_reason_says_what_to_do(renderer: Renderer, reason: Reason) -> None:
    """Each reason template explains the reason and tells the clerk what to do."""
    text = renderer.render(
        f"reason/{reason}.txt.j2",
        **reply_context(facts(Status.RETURNED, reason=reason)),
    )
    expected = (True, True)
    assert expected == (text.startswith("Lý do: "), WHAT_TO_DO[reason] in text)


def test_reason_detail_is_shown(renderer: Renderer) -> None:
    """The detail (which signature failed) appears under the reason."""
    item = facts(Status.RETURNED, reason=Reason.SIGNATURE_UNTRUSTED)
    text = renderer.render("reason/SIGNATURE_UNTRUSTED.txt.j2", **reply_context(item))
    expected = "Chi tiết: chữ ký 1: chứng thư hết hạn"
    assert expected == text.splitlines()[1]


def test_missing_fact_is_an_error(tmp_path: Path) -> None:
    """StrictUndefined: a template using a fact that was not given raises."""
    (tmp_path / "a.txt.j2").write_text("Số đến: {{ incoming_number }}\n", "utf-8")
    with pytest.raises(jinja2.UndefinedError, match="incoming_number"):
        Renderer(tmp_path).render("a.txt.j2")


def test_text_is_not_escaped_and_keeps_trailing_newline(tmp_path: Path) -> None:
    """Plain-text templates are not HTML-escaped and keep their final newline."""
    (tmp_path / "a.txt.j2").write_text("{{ value }}\n", "utf-8")
    expected = '<V/v> & "Hỏa tốc"\n'
    assert expected == Renderer(tmp_path).render("a.txt.j2", value='<V/v> & "Hỏa tốc"')


def test_rendered_text_is_nfc(tmp_path: Path) -> None:
    """Decomposed (NFD) input comes out composed (NFC)."""
    (tmp_path / "a.txt.j2").write_text("{{ value }}", "utf-8")
    decomposed = unicodedata.normalize("NFD", "TỐI MẬT")
    expected = "TỐI MẬT"
    assert expected == Renderer(tmp_path).render("a.txt.j2", value=decomposed)


def test_check_names_broken_template_with_line(tmp_path: Path) -> None:
    """check() reports a template that does not parse, with its line."""
    (tmp_path / "reply").mkdir()
    (tmp_path / "reply" / "bad.txt.j2").write_text("dòng 1\n{% if x %}\n", "utf-8")
    (tmp_path / "reply" / "good.txt.j2").write_text("{{ x }}\n", "utf-8")
    problems = Renderer(tmp_path).check(required=["reply/good.txt.j2"])
    expected = 1
    assert expected == len(problems)
    assert problems[0].startswith("reply/bad.txt.j2:2: Unexpected end of template")


def test_check_names_missing_required_templates(tmp_path: Path) -> None:
    """check() lists every required template that is missing."""
    (tmp_path / "reply").mkdir()
    (tmp_path / "reply" / "accepted.txt.j2").write_text("x\n", "utf-8")
    problems = Renderer(tmp_path).check()
    expected = [
        f"{n}: missing" for n in REQUIRED_TEMPLATES if n != "reply/accepted.txt.j2"
    ]
    assert expected == problems


def test_check_reports_missing_folder(tmp_path: Path) -> None:
    """A templates folder that does not exist is one problem, named."""
    folder = tmp_path / "nowhere"
    assert [f"{folder}: templates folder not found"] == Renderer(folder).check()


def test_exists(renderer: Renderer) -> None:
    """exists() tells a shipped template from an absent one."""
    expected = (True, False)
    assert expected == (
        renderer.exists("reply/accepted.txt.j2"),
        renderer.exists("reply/forwarded.txt.j2"),
    )
