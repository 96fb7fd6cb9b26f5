"""The Article 11 items: from page 1, the last page, the subject, edXML and JSON."""

from __future__ import annotations

import dataclasses
import json
from email.message import EmailMessage

import pytest

from mailbridge.extract.metadata import DocumentMetadata, extract_metadata
from mailbridge.extract.text import PdfText, extract_pdf_text
from mailbridge.message import ParsedMessage, parse_message
from mailbridge.sample.document import DocumentSpec, render_pdf

STATE = DocumentSpec(
    party=False,
    superior="ỦY BAN NHÂN DÂN",
    issuer="TỈNH KHÁNH HÒA",
    number_symbol="1500/QĐ-UBND",
    type_name="QUYẾT ĐỊNH",
    abstract="Về việc ban hành Quy chế làm việc của Ủy ban nhân dân tỉnh",
    urgency="THƯỢNG KHẨN",
    body=("Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05/3/2020 của Chính phủ;",),
    later_pages=(("Điều 2. Quyết định có hiệu lực trước ngày 31/12/2026.",),),
    authority="KT. CHỦ TỊCH",
    position="PHÓ CHỦ TỊCH",
    signer="Trần Thị Bình",
    distribution=("Như Điều 3;", "Bộ Nội vụ;", "Lưu: VT, NC."),
)


def _message(
    subject: str = "Gửi văn bản",
    parts: tuple[tuple[str, str, bytes], ...] = (),
) -> ParsedMessage:
    mail = EmailMessage()
    mail["From"] = "vanthu@vanphong.example.vn"
    mail["To"] = "congvan@bridge.example.vn"
    mail["Subject"] = subject
    mail.set_content("Xin gửi văn bản.")
    for name, ctype, data in parts:
        maintype, subtype = ctype.split("/")
        mail.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return parse_message(mail.as_bytes())


def _values(meta: DocumentMetadata) -> dict[str, str | None]:
    return {
        name: value["value"]
        for name, value in meta.as_json().items()
        if isinstance(value, dict)
    }


def _from_spec(spec: DocumentSpec, subject: str = "Gửi văn bản") -> DocumentMetadata:
    pdf = extract_pdf_text(render_pdf(spec), ocr=False)
    return extract_metadata(pdf, _message(subject))


def test_party_cong_van() -> None:
    """A Party công văn: no colon after Số, "về việc" under the number, no type line."""
    spec = DocumentSpec(to=("Các huyện ủy, thị ủy",))
    meta = _from_spec(spec)
    assert {
        "number_symbol": "917-CV/VPTU",
        "issue_date": "2026-11-20",
        "place": "Khánh Hòa",
        "document_type": "CV",
        "document_type_name": "Công văn",
        "urgency": "thuong",
        "abstract": "chuẩn bị hội nghị sơ kết công tác năm 2026",
        "signer_name": "Nguyễn Văn An",
        "signer_position": "CHÁNH VĂN PHÒNG",
        "issuer": "VĂN PHÒNG",
        "deadline": None,
        "identifier_code": None,
    } == _values(meta)
    assert ("Các huyện ủy, thị ủy",) == meta.recipients
    assert ((), True) == (meta.low_confidence, meta.ok)


def test_state_decision() -> None:
    """A State quyết định: type line, abstract, urgency, signature block, deadline."""
    meta = _from_spec(STATE)
    values = _values(meta)
    assert {
        "number_symbol": "1500/QĐ-UBND",
        "document_type": "QD",
        "document_type_name": "QUYẾT ĐỊNH",
        "urgency": "thuong_khan",
        "abstract": "ban hành Quy chế làm việc của Ủy ban nhân dân tỉnh",
        "signer_name": "Trần Thị Bình",
        "signer_position": "PHÓ CHỦ TỊCH",
        "issuer": "ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA",
        "deadline": "2026-12-31",
    } == {key: values[key] for key in (
        "number_symbol", "document_type", "document_type_name", "urgency",
        "abstract", "signer_name", "signer_position", "issuer", "deadline",
    )}  # fmt: skip
    assert ("Bộ Nội vụ",) == meta.recipients
    assert ("pdf:header", 0.95) == (
        meta.number_symbol.source,
        meta.number_symbol.confidence,
    )


@pytest.mark.parametrize(
    ("type_name", "symbol", "expected"),
    [
        ("QUY ĐỊNH", "269-QĐ/TW", "QDI"),
        ("QUYẾT ĐỊNH", "217-QĐ/TW", "QD"),
        ("THÔNG TRI", "05-TT/TU", "TTRI"),
        ("CHỈ THỊ", "20-CT/TU", "CT"),
        ("NGHỊ QUYẾT", "12-NQ/TU", "NQ"),
        ("TỜ TRÌNH", "917-TTr/VPTU", "TTR"),
    ],
)
def test_type_comes_from_the_type_line(
    type_name: str, symbol: str, expected: str
) -> None:
    """QUYẾT ĐỊNH and QUY ĐỊNH (both "QĐ"), THÔNG TRI and THÔNG TƯ are told apart."""
    spec = DocumentSpec(number_symbol=symbol, type_name=type_name, abstract="về việc X")
    meta = _from_spec(spec)
    assert (expected, type_name, symbol) == (
        meta.document_type.value,
        meta.document_type_name.value,
        meta.number_symbol.value,
    )


def test_first_symbol_wins_over_citations() -> None:
    """Later number/symbols on page 1 are citations, not the document's own."""
    page = (
        "ỦY BAN NHÂN DÂN   CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM\n"
        "Số: 30/2020/NĐ-CP   Hà Nội, ngày 5 tháng 3 năm 2020\n"
        "NGHỊ ĐỊNH\nVề công tác văn thư\n\n"
        "Căn cứ Quy định số 269-QĐ/TW, ngày 25/11/2014 của Ban Bí thư;"
    )
    meta = extract_metadata(PdfText((page,), page, (), (), ()), _message())
    assert ("30/2020/NĐ-CP", "2020-03-05", "ND", "Về công tác văn thư") == (
        meta.number_symbol.value,
        meta.issue_date.value,
        meta.document_type.value,
        meta.abstract.value,
    )


def test_merged_and_split_header_lines() -> None:
    """Number and date merged on one row, or a colon after a Party "Số", still parse."""
    page = (
        "VĂN PHÒNG *Số: 15-CV/TU Bà Rịa - Vũng Tàu, ngày 05 tháng 3 năm 2026\nV/v họp"
    )
    meta = extract_metadata(PdfText((page,), page, (), (), ()), _message())
    assert ("15-CV/TU", "2026-03-05", "Bà Rịa - Vũng Tàu", "họp") == (
        meta.number_symbol.value,
        meta.issue_date.value,
        meta.place.value,
        meta.abstract.value,
    )


def test_draft_has_no_number_or_date() -> None:
    """A draft leaves number and date blank: they are missing and low-confidence."""
    spec = DocumentSpec(number_symbol="   -QĐ/TU", type_name="QUYẾT ĐỊNH", date=None)
    meta = _from_spec(spec)
    assert (None, None) == (meta.number_symbol.value, meta.issue_date.value)
    assert {"number_symbol", "issue_date"} <= set(meta.low_confidence)
    assert False is meta.ok


def test_subject_fills_in_without_a_pdf() -> None:
    """Without a PDF the subject gives number, abstract and urgency."""
    msg = _message("HỎA TỐC - Số 3100/UBND-KT V/v báo cáo nhanh thiệt hại do bão")
    meta = extract_metadata(None, msg)
    assert {
        "number_symbol": ("3100/UBND-KT", "subject"),
        "urgency": ("hoa_toc", "subject"),
        "abstract": ("báo cáo nhanh thiệt hại do bão", "subject"),
    } == {
        name: (getattr(meta, name).value, getattr(meta, name).source)
        for name in ("number_symbol", "urgency", "abstract")
    }
    assert "abstract" in meta.low_confidence


@pytest.mark.parametrize(
    ("mark", "expected"),
    [
        ("KHẨN", "khan"),
        ("HOẢ TỐC", "hoa_toc"),
        ("HỎA TỐC HẸN GIỜ", "hoa_toc_hen_gio"),
    ],
)
def test_urgency_marks(mark: str, expected: str) -> None:
    """Urgency marks under the number, in either tone style."""
    meta = _from_spec(dataclasses.replace(STATE, urgency=mark))
    assert (expected, "pdf:page-1") == (meta.urgency.value, meta.urgency.source)


def test_signer_from_certificate() -> None:
    """With no signature block, the signing certificate names the signer."""
    page = "Số: 1/UBND-VP   Huế, ngày 1 tháng 1 năm 2026\nV/v họp"
    pdf = PdfText((page,), page, (), (), ())
    meta = extract_metadata(pdf, _message(), signer_from_certificate="Lê Văn Tâm")
    assert ("Lê Văn Tâm", "certificate") == (
        meta.signer_name.value,
        meta.signer_name.source,
    )


def test_edxml_part_wins() -> None:
    """edXML header values override the PDF's and add the identifier code."""
    ns = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
    edxml = (
        f'<edXML:edXML xmlns:edXML="{ns}"><edXML:edXMLEnvelope><edXML:edXMLHeader>'
        "<edXML:MessageHeader><edXML:From><edXML:OrganId>A32.01</edXML:OrganId>"
        "<edXML:OrganName>Văn phòng Tỉnh ủy</edXML:OrganName></edXML:From>"
        "<edXML:To><edXML:OrganId>A32.02</edXML:OrganId></edXML:To>"
        "<edXML:Code><edXML:CodeNumber>162</edXML:CodeNumber>"
        "<edXML:CodeNotation>CV/HU</edXML:CodeNotation></edXML:Code>"
        "<edXML:PromulgationInfo><edXML:Place>Nha Trang</edXML:Place>"
        "<edXML:PromulgationDate>2026/11/20</edXML:PromulgationDate>"
        "</edXML:PromulgationInfo><edXML:Subject>Về việc họp</edXML:Subject>"
        "<edXML:DueDate>2026/12/01</edXML:DueDate>"
        "<edXML:OtherInfo><edXML:Priority>3</edXML:Priority></edXML:OtherInfo>"
        "</edXML:MessageHeader></edXML:edXMLHeader></edXML:edXMLEnvelope></edXML:edXML>"
    ).encode()
    msg = _message(parts=(("edxml.xml", "application/xml", edxml),))
    meta = extract_metadata(None, msg)
    assert {
        "number_symbol": "162-CV/HU",
        "issue_date": "2026-11-20",
        "place": "Nha Trang",
        "urgency": "hoa_toc",
        "abstract": "Về việc họp",
        "deadline": "2026-12-01",
        "identifier_code": "A32.01",
        "issuer": "Văn phòng Tỉnh ủy",
    } == {key: value for key, value in _values(meta).items() if value and key not in (
        "document_type", "document_type_name")}  # fmt: skip
    assert "edxml" == meta.identifier_code.source


def test_json_part() -> None:
    """A JSON part with mailbridge's own field names is read."""
    data = json.dumps(
        {"number_symbol": {"value": "7816/VPCP-TTĐT"}, "issue_date": "2018-09-20"}
    ).encode()
    meta = extract_metadata(
        None, _message(parts=(("doc.json", "application/json", data),))
    )
    assert ("7816/VPCP-TTĐT", "2018-09-20", "json") == (
        meta.number_symbol.value,
        meta.issue_date.value,
        meta.number_symbol.source,
    )


def test_ocr_text_lowers_confidence() -> None:
    """Values read from an OCR'd page carry a lower confidence."""
    page = "Số: 1/UBND-VP   Huế, ngày 1 tháng 1 năm 2026\nV/v họp"
    meta = extract_metadata(PdfText((page,), page, (), (0,), ()), _message())
    assert ("1/UBND-VP", 0.665) == (
        meta.number_symbol.value,
        round(meta.number_symbol.confidence, 3),
    )


def test_as_json_shape() -> None:
    """as_json() gives value/source/confidence per field and plain lists."""
    meta = extract_metadata(None, _message())
    out = meta.as_json()
    assert {"value": "thuong", "source": "default", "confidence": 0.9} == out["urgency"]
    assert ([], ["number_symbol", "issue_date", "place", "document_type"]) == (
        out["recipients"],
        out["low_confidence"][:4],
    )
