"""The classification gate: what is a mark, what is prose, what cannot be cleared."""

from __future__ import annotations

import json
import unicodedata
from email.message import EmailMessage

import pytest

from mailbridge.codes import Classification
from mailbridge.extract.classification import (
    classify_message,
    find_marks,
    find_token_marks,
)
from mailbridge.extract.text import PdfText, extract_pdf_text
from mailbridge.message import ParsedMessage, parse_message
from mailbridge.sample.document import DocumentSpec, render_pdf

MAT, TOI, TUYET = Classification.MAT, Classification.TOI_MAT, Classification.TUYET_MAT


def _pdf_text(
    *pages: str, ocr: tuple[int, ...] = (), bad: tuple[int, ...] = ()
) -> PdfText:
    return PdfText(pages, pages[0] if pages else "", bad, ocr, ())


def _message(
    subject: str = "Gửi văn bản",
    body: str = "Xin gửi văn bản.",
    parts: tuple[tuple[str, str, bytes], ...] = (
        ("van-ban.pdf", "application/pdf", b"%PDF-"),
    ),
) -> ParsedMessage:
    mail = EmailMessage()
    mail["From"] = "vanthu@vanphong.example.vn"
    mail["To"] = "congvan@bridge.example.vn"
    mail["Subject"] = subject
    mail.set_content(body)
    for name, ctype, data in parts:
        maintype, subtype = ctype.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return parse_message(mail.as_bytes())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("MẬT", [MAT]),
        ("  TỐI MẬT  ", [TOI]),
        ("TUYỆT MẬT", [TUYET]),
        (unicodedata.normalize("NFD", "TỐI MẬT"), [TOI]),
        ("Số 12/UBND-NC      MẬT      Khánh Hòa, ngày 1 tháng 2 năm 2026", [MAT]),
        ("Độ mật: Mật", [MAT]),
        ("ĐỘ MẬT: TUYỆT MẬT", [TUYET]),
        ("Báo cáo [MẬT] quý IV", [MAT]),
        ("| TỐI MẬT |", [TOI]),
        ("Trang 1\nMẬT\nTrang 2\nTỐI MẬT", [MAT, TOI]),
        ("T\u00d4\u0301I  M\u00c2\u0323T".replace("  ", " "), [TOI]),
    ],
)
def test_marks(text: str, expected: list[Classification]) -> None:
    """Whole lines, standalone segments, brackets and the "Độ mật" field are marks."""
    assert expected == [finding.level for finding in find_marks(text, "pdf")]


@pytest.mark.parametrize(
    "text",
    [
        "Các cơ quan thực hiện nghiêm việc bảo vệ bí mật nhà nước.",
        "BẢO VỆ BÍ MẬT NHÀ NƯỚC",
        "Thay đổi mật khẩu, không dùng mật mã dân sự.",
        "Mật độ dân số tăng; quan hệ mật thiết.",
        "GIẢI MẬT",
        "Từ: 01/06/2026",
        "Văn bản có độ Mật, Tối mật, Tuyệt mật không gửi qua Internet.",
        "Tuyệt mật.",
        "mật",
        "LƯU HÀNH NỘI BỘ",
        "XEM XONG TRẢ LẠI",
        "DỰ THẢO",
        "TỐI MẤT",
    ],
)
def test_prose_is_not_a_mark(text: str) -> None:
    """Prose about secrecy, GIẢI MẬT and circulation notes are not marks."""
    assert [] == find_marks(text, "pdf")


def test_loose_marks_for_ocr_text() -> None:
    """OCR text may lose diacritics: a capital "TOI MAT" line counts when loose."""
    assert [] == find_marks("TOI MAT", "pdf")
    assert [TOI] == [f.level for f in find_marks("TOI MAT", "pdf", loose=True)]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("MẬT - Kế hoạch bảo vệ", [MAT]),
        ("[MẬT] Báo cáo tình hình", [MAT]),
        ("TỐI MẬT: Thông báo kết luận", [TOI]),
        ("Fwd: Re: TUYỆT MẬT - Phương án", [TUYET]),
        ("Re: [Mật] góp ý dự thảo", [MAT]),
        ("Kế hoạch diễn tập - MẬT", [MAT]),
        ("(tối mật) Báo cáo", [TOI]),
        ("Mật khẩu hộp thư - hướng dẫn", []),
        ("Mật độ dân số năm 2026", []),
        ("V/v bảo vệ bí mật nhà nước", []),
        ("GIẢI MẬT - tài liệu lưu trữ", []),
        ("BẢO VỆ BÍ MẬT NHÀ NƯỚC", []),
    ],
)
def test_subject_marks(subject: str, expected: list[Classification]) -> None:
    """In a subject, a mark is a leading, trailing or bracketed token."""
    assert expected == sorted({f.level for f in find_token_marks(subject, "subject")})


def test_clean_message_is_clear() -> None:
    """A clean message with a readable PDF is neither classified nor uncertain."""
    msg = _message()
    result = classify_message(msg, {"van-ban.pdf": _pdf_text("Số 1/UBND-VP\nV/v họp")})
    assert (None, (), (), False, False) == (
        result.level,
        result.findings,
        result.unreadable,
        result.classified,
        result.uncertain,
    )
    assert "clear: no classification mark" == result.summary()


def test_highest_level_wins_and_sources_are_named() -> None:
    """Marks in subject and pages are all found; the level is the highest."""
    msg = _message(subject="MẬT - Kế hoạch")
    texts = {"van-ban.pdf": _pdf_text("Trang một", "TUYỆT MẬT")}
    result = classify_message(msg, texts)
    assert TUYET == result.level
    assert [("subject", MAT), ("pdf:van-ban.pdf:page 2", TUYET)] == [
        (f.source, f.level) for f in result.findings
    ]
    assert result.summary().startswith("classified tuyet_mat: 'MẬT' in subject")


def test_marks_in_body_and_file_name() -> None:
    """The mail body and the attachment name are looked at too."""
    parts = (("TOI_MAT_ke-hoach.pdf", "application/pdf", b"%PDF-"),)
    msg = _message(body="Kính gửi,\nĐộ mật: Mật\n", parts=parts)
    result = classify_message(msg, {"TOI_MAT_ke-hoach.pdf": _pdf_text("Nội dung")})
    assert {("body", MAT), ("attachment-name:TOI_MAT_ke-hoach.pdf", TOI)} == {
        (f.source, f.level) for f in result.findings
    }


def test_clean_file_names() -> None:
    """File names that merely contain "mat" or "Mật độ" are not marks."""
    parts = (
        ("mat-do-dan-so.pdf", "application/pdf", b"%PDF-"),
        ("Mật khẩu.pdf", "application/pdf", b"%PDF-"),
    )
    texts = {name: _pdf_text("Nội dung") for name, _, _ in parts}
    assert None is classify_message(_message(parts=parts), texts).level


def test_pdf_without_text_is_uncertain() -> None:
    """A PDF missing from the texts, or with an unreadable page, cannot be cleared."""
    msg = _message()
    missing = classify_message(msg, {})
    scanned = classify_message(msg, {"van-ban.pdf": _pdf_text("", bad=(0,))})
    assert (("pdf:van-ban.pdf",), True) == (missing.unreadable, missing.uncertain)
    assert ("pdf:van-ban.pdf:page 1",) == scanned.unreadable
    assert "uncertain: could not read pdf:van-ban.pdf:page 1" == scanned.summary()


def test_ocr_page_clears_nothing_but_can_find_a_stamp() -> None:
    """An OCR'd page without a stamp stays uncertain; with a stamp it is classified."""
    msg = _message()
    clean = classify_message(msg, {"van-ban.pdf": _pdf_text("Văn bản", ocr=(0,))})
    stamped = classify_message(msg, {"van-ban.pdf": _pdf_text("MAT", ocr=(0,))})
    assert (True, None) == (clean.uncertain, clean.level)
    assert (MAT, False) == (stamped.level, stamped.uncertain)


def test_mojibake_pdf_is_uncertain() -> None:
    """A real TCVN3 text layer read without OCR is held for a clerk."""
    data = render_pdf(DocumentSpec(mojibake=True))
    pdf = extract_pdf_text(data, ocr=False)
    parts = (("cong-van.pdf", "application/pdf", data),)
    result = classify_message(_message(parts=parts), {"cong-van.pdf": pdf})
    assert (None, ("pdf:cong-van.pdf:page 1",)) == (result.level, result.unreadable)


def test_office_and_text_attachments() -> None:
    """Office texts are scanned; an office file without text is not cleared."""
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    parts = (
        ("phu-luc.docx", docx, b"PK"),
        ("khac.odt", "application/vnd.oasis.opendocument.text", b"PK"),
        ("ghi-chu.txt", "text/plain", "TỐI MẬT\n".encode()),
    )
    result = classify_message(
        _message(parts=parts), {}, {"phu-luc.docx": "MẬT\nPhụ lục"}
    )
    assert [("office:phu-luc.docx", MAT), ("attachment:ghi-chu.txt", TOI)] == [
        (f.source, f.level) for f in result.findings
    ]
    assert ("attachment:khac.odt",) == result.unreadable


def test_archives_and_images_cannot_be_cleared() -> None:
    """Attachments mailbridge cannot open are listed; signatures are skipped."""
    parts = (
        ("ho-so.zip", "application/zip", b"PK\x03\x04"),
        ("anh.jpg", "image/jpeg", b"\xff\xd8"),
        ("smime.p7s", "application/pkcs7-signature", b"0"),
    )
    result = classify_message(_message(parts=parts), {})
    assert ("attachment:ho-so.zip", "attachment:anh.jpg") == result.unreadable


def test_edxml_and_json_parts() -> None:
    """Structured parts: marks in values and secrecy fields; unknown codes held."""
    edxml = (
        '<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016">'
        "<edXML:MessageHeader><edXML:Subject>[MẬT] Phương án</edXML:Subject>"
        "<edXML:SecurityLevel>7</edXML:SecurityLevel></edXML:MessageHeader>"
        "</edXML:edXML>"
    ).encode()
    data = json.dumps({"document": {"classification": "toi_mat"}}).encode()
    parts = (
        ("edxml.xml", "application/xml", edxml),
        ("meta.json", "application/json", data),
        ("hong.json", "application/json", b"{not json"),
    )
    result = classify_message(_message(parts=parts), {})
    assert TOI == result.level
    assert {
        ("edxml:edXML/MessageHeader/Subject", MAT),
        ("json:document/classification", TOI),
    } == {(f.source, f.level) for f in result.findings}
    assert (
        "edxml:edXML/MessageHeader/SecurityLevel",
        "attachment:hong.json",
    ) == result.unreadable


def test_html_body_and_html_attachment() -> None:
    """A mark in an HTML body (one line per block) or an HTML attachment is found."""
    mail = EmailMessage()
    mail["From"] = "vanthu@vanphong.example.vn"
    mail["Subject"] = "Gửi văn bản"
    mail.set_content(
        "<p>K&iacute;nh gửi</p><p>M&#7852;T</p><div>Nội dung</div>", "html"
    )
    mail.add_attachment(
        "<table><tr><td>TỐI MẬT</td></tr></table>".encode(),
        maintype="text",
        subtype="html",
        filename="ghi-chu.html",
    )
    result = classify_message(parse_message(mail.as_bytes()), {})
    assert [("body", MAT), ("attachment:ghi-chu.html", TOI)] == [
        (f.source, f.level) for f in result.findings
    ]
