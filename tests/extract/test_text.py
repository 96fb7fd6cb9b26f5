"""PDF text per page (pdfminer, OCR fallback), mojibake detection, DOCX/ODT text."""

from __future__ import annotations

import dataclasses
import io
import zipfile

import pytest

from mailbridge.extract.text import (
    extract_office_text,
    extract_pdf_text,
    looks_like_mojibake,
)
from mailbridge.sample.document import (
    DocumentSpec,
    render_pdf,
    render_scanned_pdf,
    to_tcvn3,
)

PARTY = DocumentSpec(to=("Các huyện ủy",), later_pages=(("Trang hai.",),))


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def test_pages_and_header_of_a_party_document() -> None:
    """Two pages of text; the header holds the two-column rows of the top quarter."""
    text = extract_pdf_text(render_pdf(PARTY), ocr=False)
    header = text.header.splitlines()
    assert 2 == len(text.pages)
    assert "TỈNH ỦY KHÁNH HÒA   ĐẢNG CỘNG SẢN VIỆT NAM" == header[0]
    assert "Số 917-CV/VPTU   Khánh Hòa, ngày 20 tháng 11 năm 2026" in header
    assert "Nguyễn Văn An" in text.pages[1]
    assert "Nguyễn Văn An" not in text.header
    assert (True, (), (), ()) == (
        text.readable,
        text.unreadable_pages,
        text.ocr_pages,
        text.mojibake_pages,
    )


def test_nfd_text_layer_comes_out_nfc() -> None:
    """A decomposed text layer is extracted as composed text."""
    spec = dataclasses.replace(PARTY, nfd=True, urgency="HỎA TỐC")
    text = extract_pdf_text(render_pdf(spec), ocr=False)
    assert "HỎA TỐC" in text.pages[0].splitlines()
    assert "Số 917-CV/VPTU   Khánh Hòa, ngày 20 tháng 11 năm 2026" in text.header


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Uû ban nh©n d©n tØnh Kh¸nh Hßa", True),
        (to_tcvn3("Văn phòng Tỉnh ủy đề nghị các cơ quan thực hiện"), True),
        ("Uûy ban nhaân daân tænh Khaùnh Hoøa", True),
        ("(cid:12)(cid:14)(cid:15) (cid:3)", True),
        ("Ủy ban nhân dân tỉnh Khánh Hòa, ngày 20 tháng 11", False),
        (
            "Bản quyền © 2026: tài liệu « Báo cáo tổng hợp tình hình thực hiện nhiệm"
            " vụ năm 2026 » của Ủy ban nhân dân tỉnh",
            False,
        ),
        ("", False),
    ],
)
def test_mojibake_detection(text: str, expected: bool) -> None:
    """TCVN3/VNI text read as Latin-1 is recognised; Unicode Vietnamese is not."""
    assert expected == looks_like_mojibake(text)


def test_mojibake_page_without_ocr_is_not_readable() -> None:
    """A TCVN3 text layer is flagged and, without OCR, leaves the PDF unreadable."""
    spec = dataclasses.replace(PARTY, mojibake=True)
    text = extract_pdf_text(render_pdf(spec), ocr=False)
    assert ((0, 1), (), False) == (text.mojibake_pages, text.ocr_pages, text.readable)
    assert (0, 1) == text.uncleared_pages


def test_scanned_page_without_ocr_is_unreadable() -> None:
    """An image-only page has no text and, without OCR, is listed unreadable."""
    text = extract_pdf_text(render_scanned_pdf(DocumentSpec()), ocr=False)
    assert ("", (0,), False) == (text.pages[0], text.unreadable_pages, text.readable)


def test_ocr_budget_is_bounded() -> None:
    """With no time left, OCR is not attempted and the page stays unreadable."""
    text = extract_pdf_text(render_scanned_pdf(DocumentSpec()), timeout=0.0)
    assert ((0,), ()) == (text.unreadable_pages, text.ocr_pages)


@pytest.mark.slow
def test_ocr_reads_a_scanned_stamp() -> None:
    """Tesseract reads the page of a scan, stamp included."""
    spec = DocumentSpec(stamp="TỐI MẬT")
    text = extract_pdf_text(render_scanned_pdf(spec), timeout=60)
    lines = [line.strip() for line in text.pages[0].splitlines()]
    assert ((0,), ()) == (text.ocr_pages, text.unreadable_pages)
    assert "TỐI MẬT" in lines


def test_ocr_reads_a_stamp_image_on_a_text_page() -> None:
    """A stamp pasted as an image near the number is read; the text layer stays."""
    text = extract_pdf_text(render_pdf(DocumentSpec(stamp_image="TUYỆT MẬT")))
    lines = text.pages[0].splitlines()
    assert ((), ()) == (text.ocr_pages, text.unreadable_pages)
    assert ("TUYỆT MẬT", "Số 917-CV/VPTU") == (lines[-1], lines[3].split("   ")[0])
    assert "TUYỆT MẬT" == text.header.splitlines()[-1]


@pytest.mark.parametrize("data", [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF"])
def test_unreadable_pdf_reports_an_error(data: bytes) -> None:
    """Bytes that are not a readable PDF give an error, never an exception."""
    text = extract_pdf_text(data, ocr=False)
    assert (False, ()) == (text.readable, text.pages)
    assert text.error is not None


def test_docx_text() -> None:
    """Paragraphs of a .docx come out one per line, NFC."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    xml = (
        f'<w:document xmlns:w="{w}"><w:body><w:p><w:r><w:t>M</w:t></w:r>'
        "<w:r><w:t>\u00c2\u0323T</w:t></w:r></w:p><w:p><w:r><w:t>Phụ lục</w:t>"
        "</w:r></w:p></w:body></w:document>"
    )
    data = _zip({"word/document.xml": xml})
    assert "MẬT\nPhụ lục\n" == extract_office_text(data, "Phu luc.DOCX")


def test_odt_text() -> None:
    """Paragraphs, spans and spaces of an .odt come out as text."""
    t = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
    o = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
    xml = (
        f'<office:document-content xmlns:office="{o}" xmlns:text="{t}">'
        "<office:body><office:text><text:h>TỐI MẬT</text:h><text:p>Kế"
        '<text:s text:c="2"/>hoạch <text:span>số 5</text:span>.</text:p>'
        "</office:text></office:body></office:document-content>"
    )
    data = _zip({"content.xml": xml})
    assert "TỐI MẬT\nKế  hoạch số 5.\n" == extract_office_text(data, "ke-hoach.odt")


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"plain text", "note.txt"),
        (b"not a zip", "broken.docx"),
        (_zip({"other.xml": "<a/>"}), "empty.odt"),
        (
            _zip({"word/document.xml": '<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>'}),
            "dtd.docx",
        ),
    ],
)
def test_office_text_none_when_not_readable(data: bytes, name: str) -> None:
    """Other files, broken archives and documents with a DTD give None."""
    assert None is extract_office_text(data, name)
