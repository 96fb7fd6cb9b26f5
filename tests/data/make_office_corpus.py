"""Build tests/data/office: documents laid out as an office suite lays them out.

Clerks write documents in Word or LibreOffice, where the page-1 header is a
two-column table (agency block and number on the left; "ĐẢNG CỘNG SẢN VIỆT NAM" or
the national motto and the place/date line on the right) and the signature block
is a table too ("Nơi nhận:" on the left, authority, position and name on the
right).  Each document here is written as flat OpenDocument XML (``.fodt``) and
converted with LibreOffice; the PDFs and ``labels.yaml`` are kept in the
repository, so LibreOffice is only needed to regenerate them::

    python tests/data/make_office_corpus.py            # needs soffice on PATH
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import yaml

from mailbridge.codes import DOCUMENT_TYPE_NAMES
from mailbridge.extract.normalise import canonical

__all__ = ["DOCUMENTS", "SPECS", "OfficeDocument", "build", "documents", "fodt"]

OUT = Path(__file__).resolve().parent / "office"


@dataclass(frozen=True)
class OfficeDocument:
    """One document of the office corpus and its labels."""

    name: str
    party: bool
    superior: str
    issuer: str
    number: str
    place: str
    date: dt.date
    type_key: str  # the printed type-name line comes from it; "CV" has none
    abstract: str
    signer: tuple[str, str, str]  # authority line, position, name
    urgency: str | None = None  # printed mark, e.g. "KHẨN"
    stamp: str | None = None  # classification mark alone in a bordered cell
    stamp_in_header: bool = False  # the stamp sits in the left header cell
    classification: str = "none"
    giai_mat: bool = False
    nfd: bool = False
    one_row_header: bool = False  # number and date in the same row as the names
    kinh_gui: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ("Như trên",)
    two_pages: bool = False
    abstract_prefix: str = ""  # "Về việc " printed before the abstract
    font: float = 13.0  # points; Decree 30/2020 asks for 13-14
    columns: tuple[float, float] | None = None  # header column widths, cm
    stamp_width: float = 3.6  # cm; a narrow box wraps "TỐI MẬT" over two lines
    tight: bool = False  # left cell aligned right, right cell left: columns touch

    @property
    def type_name(self) -> str | None:
        """The type-name line as printed; None for a công văn."""
        return (
            None
            if self.type_key == "CV"
            else DOCUMENT_TYPE_NAMES[self.type_key].upper()
        )

    def label(self) -> dict[str, object]:
        """The labels.yaml entry of this document."""
        urgency = canonical(self.urgency or "")
        return {
            "file": f"{self.name}.pdf",
            "classification": self.classification,
            "outcome": "clear" if self.classification == "none" else "classified",
            "metadata": {
                "number_symbol": self.number,
                "issue_date": self.date.isoformat(),
                "document_type": self.type_key,
                "urgency": _URGENCY.get(urgency, "thuong"),
                "abstract": self.abstract,
                "signer_name": self.signer[2],
            },
        }


_URGENCY = {
    "KHẨN": "khan",
    "THƯỢNG KHẨN": "thuong_khan",
    "HỎA TỐC": "hoa_toc",
    "HỎA TỐC HẸN GIỜ": "hoa_toc_hen_gio",
}


_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<office:document xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
 office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
<office:font-face-decls>
 <style:font-face style:name="DejaVu Serif" svg:font-family="'DejaVu Serif'"
  style:font-family-generic="roman" style:font-pitch="variable"/>
</office:font-face-decls>
<office:styles>
 <style:default-style style:family="paragraph">
  <style:paragraph-properties fo:margin-top="0cm" fo:margin-bottom="0cm"/>
  <style:text-properties style:font-name="DejaVu Serif" fo:font-size="{font}pt"
   fo:language="vi" fo:country="VN"/>
 </style:default-style>
</office:styles>
<office:automatic-styles>
 <style:page-layout style:name="pm1">
  <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm"
   fo:margin-top="2cm" fo:margin-bottom="2cm" fo:margin-left="3cm"
   fo:margin-right="1.5cm"/>
 </style:page-layout>
 <style:style style:name="Head" style:family="table">
  <style:table-properties style:width="16.5cm" table:align="left"/>
 </style:style>
 <style:style style:name="HeadL" style:family="table-column">
  <style:table-column-properties style:column-width="{left}cm"/>
 </style:style>
 <style:style style:name="HeadR" style:family="table-column">
  <style:table-column-properties style:column-width="{right}cm"/>
 </style:style>
 <style:style style:name="Stamp" style:family="table">
  <style:table-properties style:width="{stamp}cm" table:align="left"
   fo:margin-left="1.5cm" fo:margin-top="0.2cm"/>
 </style:style>
 <style:style style:name="StampC" style:family="table-column">
  <style:table-column-properties style:column-width="{stamp}cm"/>
 </style:style>
 <style:style style:name="Cell" style:family="table-cell">
  <style:table-cell-properties fo:padding="0.05cm" fo:border="none"/>
 </style:style>
 <style:style style:name="Box" style:family="table-cell">
  <style:table-cell-properties fo:padding="0.08cm" fo:border="1.5pt solid #cc0000"/>
 </style:style>
 <style:style style:name="C" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center"/>
 </style:style>
 <style:style style:name="CB" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-weight="bold"/>
 </style:style>
 <style:style style:name="CBig" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center" fo:margin-top="0.5cm"/>
  <style:text-properties fo:font-weight="bold" fo:font-size="14pt"/>
 </style:style>
 <style:style style:name="CI" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-style="italic"/>
 </style:style>
 <style:style style:name="CR" style:family="paragraph">
  <style:paragraph-properties fo:text-align="center"/>
  <style:text-properties fo:font-weight="bold" fo:color="#cc0000"/>
 </style:style>
 <style:style style:name="Mark" style:family="paragraph">
  <style:paragraph-properties fo:margin-left="1.5cm" fo:margin-top="0.15cm"/>
  <style:text-properties fo:font-weight="bold" fo:font-size="12pt" fo:color="#cc0000"/>
 </style:style>
 <style:style style:name="J" style:family="paragraph">
  <style:paragraph-properties fo:text-align="justify" fo:text-indent="1cm"
   fo:margin-top="0.15cm"/>
 </style:style>
 <style:style style:name="L" style:family="paragraph">
  <style:paragraph-properties fo:text-align="start"/>
  <style:text-properties fo:font-size="11pt"/>
 </style:style>
 <style:style style:name="LBI" style:family="paragraph">
  <style:paragraph-properties fo:text-align="start" fo:margin-top="0.4cm"/>
  <style:text-properties fo:font-weight="bold" fo:font-style="italic"/>
 </style:style>
 <style:style style:name="Gap" style:family="paragraph">
  <style:paragraph-properties fo:margin-top="0.3cm"/>
 </style:style>
 <style:style style:name="Break" style:family="paragraph">
  <style:paragraph-properties fo:break-before="page"/>
 </style:style>
</office:automatic-styles>
<office:master-styles>
 <style:master-page style:name="Standard" style:page-layout-name="pm1"/>
</office:master-styles>
<office:body><office:text>
"""
_TAIL = "</office:text></office:body></office:document>\n"

_FILLER = (
    "Thực hiện chương trình công tác năm, đề nghị các cơ quan, đơn vị quán triệt "
    "và triển khai thực hiện nghiêm túc nội dung trên; định kỳ báo cáo kết quả "
    "về cơ quan thường trực để tổng hợp, theo dõi."
)


class _Writer:
    """Paragraphs and tables of one document, as ODF XML."""

    def __init__(self, *, nfd: bool) -> None:
        self.nfd = nfd
        self.parts: list[str] = []

    def text(self, value: str) -> str:
        if self.nfd:
            return escape(unicodedata.normalize("NFD", value))
        return escape(unicodedata.normalize("NFC", value))

    def para(self, style: str, value: str) -> str:
        return f'<text:p text:style-name="{style}">{self.text(value)}</text:p>'

    def cell(self, paragraphs: list[str], style: str = "Cell") -> str:
        inner = "".join(paragraphs) or '<text:p text:style-name="C"/>'
        return (
            f'<table:table-cell table:style-name="{style}">{inner}</table:table-cell>'
        )

    def table(self, rows: list[tuple[list[str], list[str]]]) -> None:
        self.parts.append(
            '<table:table table:name="T" table:style-name="Head">'
            '<table:table-column table:style-name="HeadL"/>'
            '<table:table-column table:style-name="HeadR"/>'
        )
        for left, right in rows:
            self.parts.append(
                f"<table:table-row>{self.cell(left)}{self.cell(right)}</table:table-row>"
            )
        self.parts.append("</table:table>")

    def stamp(self, mark: str) -> None:
        self.parts.append(
            '<table:table table:name="S" table:style-name="Stamp">'
            '<table:table-column table:style-name="StampC"/><table:table-row>'
            f"{self.cell([self.para('CR', mark)], 'Box')}"
            "</table:table-row></table:table>"
        )


def _realign(paragraphs: list[str], side: str) -> list[str]:
    """Centred header paragraphs aligned to the start ("S") or end ("E") instead."""
    out: list[str] = []
    for paragraph in paragraphs:
        for style in ("CB", "CI", "CR", "C"):
            old = f'text:style-name="{style}"'
            if old in paragraph:
                paragraph = paragraph.replace(old, f'text:style-name="{side}{style}"')
                break
        out.append(paragraph)
    return out


def _aligned_styles() -> str:
    """Start- and end-aligned copies of the centred paragraph styles."""
    text = {"C": "", "CB": ' fo:font-weight="bold"', "CI": ' fo:font-style="italic"'}
    text["CR"] = ' fo:font-weight="bold" fo:color="#cc0000"'
    out = []
    for side, align in (("S", "start"), ("E", "end")):
        for name, props in text.items():
            out.append(
                f'<style:style style:name="{side}{name}" style:family="paragraph">'
                f'<style:paragraph-properties fo:text-align="{align}"/>'
                f"<style:text-properties{props}/></style:style>"
            )
    return "\n".join(out)


def _header(doc: OfficeDocument, out: _Writer) -> None:
    day, month, year = doc.date.day, doc.date.month, doc.date.year
    dated = f"{doc.place}, ngày {day} tháng {month} năm {year}"
    names = [out.para("C", doc.superior), out.para("CB", doc.issuer)]
    if doc.party:
        motto = [out.para("CB", "ĐẢNG CỘNG SẢN VIỆT NAM"), out.para("C", "_______")]
        number = [out.para("C", "*"), out.para("C", f"Số {doc.number}")]
    else:
        motto = [
            out.para("CB", "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
            out.para("CB", "Độc lập - Tự do - Hạnh phúc"),
            out.para("C", "_______________"),
        ]
        number = [out.para("C", "_______"), out.para("C", f"Số: {doc.number}")]
    if doc.type_name is None:
        number.append(out.para("CI", f"V/v {doc.abstract}"))
    if doc.urgency and doc.nfd:
        number.append(out.para("CR", doc.urgency))
    if doc.stamp and doc.stamp_in_header:
        number.append(out.para("CR", doc.stamp))
    date = [out.para("CI", dated)]
    rows = [(names + number, motto + date)] if doc.one_row_header else []
    rows = rows or [(names, motto), (number, date)]
    if doc.tight:
        rows = [(_realign(left, "E"), _realign(right, "S")) for left, right in rows]
    out.table(rows)
    if doc.urgency and not doc.nfd:
        out.parts.append(out.para("Mark", doc.urgency))
    if doc.stamp and not doc.stamp_in_header:
        out.stamp(doc.stamp)
    if doc.giai_mat:
        out.stamp("GIẢI MẬT")
        out.parts.append(out.para("Mark", f"Từ: 15/{month:02d}/{year}"))


def fodt(doc: OfficeDocument) -> str:
    """The flat OpenDocument text of ``doc``."""
    out = _Writer(nfd=doc.nfd)
    _header(doc, out)
    if doc.type_name is not None:
        out.parts.append(out.para("CBig", doc.type_name))
        out.parts.append(out.para("CB", doc.abstract_prefix + doc.abstract))
        out.parts.append(out.para("C", "-----"))
    if doc.kinh_gui:
        out.parts.append(out.para("Gap", "Kính gửi: " + doc.kinh_gui[0]))
        out.parts.extend(out.para("C", f"- {name}") for name in doc.kinh_gui[1:])
    for index, paragraph in enumerate((*doc.body, _FILLER)):
        if doc.two_pages and index == 1:
            out.parts.append(out.para("Break", paragraph))
        else:
            out.parts.append(out.para("J", paragraph))
    authority, position, name = doc.signer
    left = [out.para("LBI", "Nơi nhận:")]
    left += [out.para("L", f"- {item};") for item in doc.recipients]
    left.append(out.para("L", "- Lưu: VT." if not doc.party else "- Lưu Văn phòng."))
    right = [out.para("CB", authority)] if authority else [out.para("Gap", "")]
    right += [out.para("CB", position), out.para("Gap", ""), out.para("Gap", "")]
    right.append(out.para("CB", name))
    out.table([(left, right)])
    left_cm, right_cm = doc.columns or ((7.5, 9.0) if doc.party else (6.0, 10.5))
    head = (
        _HEAD.replace("{left}", str(left_cm))
        .replace("{right}", str(right_cm))
        .replace("{font}", str(doc.font))
        .replace("{stamp}", str(doc.stamp_width))
        .replace(
            "</office:automatic-styles>",
            _aligned_styles() + "\n</office:automatic-styles>",
        )
    )
    return head + "\n".join(out.parts) + _TAIL


_BASES: dict[str, dict[str, Any]] = {
    "party": {
        "party": True,
        "superior": "TỈNH ỦY KHÁNH HÒA",
        "issuer": "VĂN PHÒNG",
        "place": "Khánh Hòa",
        "signer": ("K/T CHÁNH VĂN PHÒNG", "PHÓ CHÁNH VĂN PHÒNG", "Lê Thị Hồng"),
    },
    "state": {
        "party": False,
        "superior": "ỦY BAN NHÂN DÂN",
        "issuer": "TỈNH KHÁNH HÒA",
        "place": "Khánh Hòa",
        "signer": ("TM. ỦY BAN NHÂN DÂN", "KT. CHỦ TỊCH", "Trần Quốc Bảo"),
    },
}

# One document per line: the base ("party" or "state") and the fields that differ.
SPECS = """
party-cv: {base: party, number: 917-CV/VPTU, date: 2026-11-20, type_key: CV, abstract: chuẩn bị hội nghị sơ kết công tác năm 2026, kinh_gui: ['Các huyện ủy, thị ủy, thành ủy'], body: [Văn phòng Tỉnh ủy đề nghị các đồng chí chuẩn bị báo cáo sơ kết.]}
party-cv-khan: {base: party, issuer: BAN TUYÊN GIÁO, number: 452-CV/BTGTU, date: 2026-09-07, type_key: CV, abstract: tổ chức hội nghị báo cáo viên trực tuyến toàn tỉnh quý IV năm 2026, signer: [K/T TRƯỞNG BAN, PHÓ TRƯỞNG BAN, Võ Thị Lan], urgency: KHẨN, body: [Ban Tuyên giáo Tỉnh ủy thông báo lịch hội nghị.]}
party-qd: {base: party, superior: BAN CHẤP HÀNH TRUNG ƯƠNG, issuer: '', number: 217-QĐ/TW, place: Hà Nội, date: 2026-01-02, type_key: QD, abstract: 'ban hành Quy chế gửi, nhận văn bản điện tử', abstract_prefix: 'về việc ', signer: [T/M BAN BÍ THƯ, '', Trần Văn Bình], body: ['Căn cứ Điều lệ Đảng; căn cứ Quy chế làm việc của Ban Chấp hành Trung ương, Bộ Chính trị và Ban Bí thư khóa XIII,']}
party-qdi: {base: party, superior: TỈNH ỦY KHÁNH HÒA, number: 08-QĐi/TU, date: 2026-04-15, type_key: QDI, abstract: về chế độ làm việc của Văn phòng Tỉnh ủy, signer: [T/M BAN THƯỜNG VỤ, PHÓ BÍ THƯ, Nguyễn Văn An], body: ['Căn cứ Quy định số 269-QĐ/TW, ngày 25/11/2014 của Ban Bí thư,']}
party-tb: {base: party, number: 1205-TB/VPTU, date: 2026-06-03, type_key: TB, abstract: kết luận của Thường trực Tỉnh ủy tại buổi làm việc với Đảng ủy Khối các cơ quan tỉnh, one_row_header: true, body: ['Ngày 30/5/2026, Thường trực Tỉnh ủy làm việc với Đảng ủy Khối.']}
party-kh-hoatoc: {base: party, number: 46-KH/TU, date: 2027-02-12, type_key: KH, abstract: tổ chức Đại hội đảng bộ các cấp nhiệm kỳ 2025-2030, urgency: HỎA TỐC, signer: [T/M BAN THƯỜNG VỤ, PHÓ BÍ THƯ, Nguyễn Văn An], body: ['Thực hiện Chỉ thị số 35-CT/TW của Bộ Chính trị,']}
party-bc: {base: party, superior: ĐẢNG BỘ TỈNH KHÁNH HÒA, issuer: ĐẢNG ỦY KHỐI CÁC CƠ QUAN TỈNH, number: 215-BC/ĐUK, place: Nha Trang, date: 2026-12-28, type_key: BC, abstract: 'tổng kết công tác xây dựng Đảng năm 2026, phương hướng nhiệm vụ năm 2027', signer: [T/M BAN THƯỜNG VỤ, BÍ THƯ, Đặng Thị Thu], two_pages: true, body: [I. TÌNH HÌNH CHUNG, 'Năm 2026, Đảng bộ Khối hoàn thành nhiệm vụ.']}
party-gm: {base: party, number: 311-GM/VPTU, date: 2026-10-09, type_key: GM, abstract: 'dự hội nghị trực tuyến học tập, quán triệt nghị quyết', body: [Văn phòng Tỉnh ủy trân trọng kính mời đồng chí tới dự.]}
party-nq: {base: party, superior: ĐẢNG BỘ TỈNH KHÁNH HÒA, issuer: BAN CHẤP HÀNH, number: 12-NQ/TU, date: 2026-06-30, type_key: NQ, abstract: về chuyển đổi số trong các cơ quan đảng đến năm 2030, signer: [T/M TỈNH ỦY, BÍ THƯ, Phạm Quốc Hùng], urgency: THƯỢNG KHẨN, font: 14.0, one_row_header: true, body: [Hội nghị lần thứ 15 Ban Chấp hành Đảng bộ tỉnh đã thảo luận.]}
party-ttr: {base: party, number: 917-TTr/VPTU, date: 2026-12-01, type_key: TTR, abstract: đề nghị phê duyệt dự toán kinh phí năm 2027, font: 14.0, kinh_gui: [Thường trực Tỉnh ủy], body: ['Căn cứ Quyết định số 99-QĐ/TW của Ban Bí thư,']}
state-cv: {base: state, superior: UBND TỈNH KHÁNH HÒA, issuer: SỞ TÀI NGUYÊN VÀ MÔI TRƯỜNG, number: 1234/STNMT-VP, date: 2026-03-05, type_key: CV, abstract: triển khai kiểm kê đất đai và lập bản đồ hiện trạng sử dụng đất năm 2026, signer: [KT. GIÁM ĐỐC, PHÓ GIÁM ĐỐC, Phạm Minh Tuấn], kinh_gui: ['Ủy ban nhân dân các huyện, thị xã, thành phố'], body: ['Thực hiện Luật Đất đai năm 2024, Sở đề nghị các địa phương phối hợp.']}
state-cv-hcm: {base: state, superior: UBND THÀNH PHỐ HỒ CHÍ MINH, issuer: SỞ NÔNG NGHIỆP VÀ PHÁT TRIỂN NÔNG THÔN, number: 2345/SNNPTNT-KHTC, place: Thành phố Hồ Chí Minh, date: 2026-07-09, type_key: CV, abstract: báo cáo tiến độ giải ngân vốn đầu tư công 6 tháng đầu năm 2026, signer: [KT. GIÁM ĐỐC, PHÓ GIÁM ĐỐC, Huỳnh Thị Mai], urgency: HOẢ TỐC, font: 14.0, columns: [5.5, 11.0], kinh_gui: [Sở Tài chính, Sở Kế hoạch và Đầu tư], body: [Sở Nông nghiệp và Phát triển nông thôn báo cáo như sau.]}
state-qd: {base: state, number: 1500/QĐ-UBND, place: Thành phố Hồ Chí Minh, date: 2026-08-21, type_key: QD, abstract: Ban hành Quy chế tiếp nhận văn bản điện tử qua cổng thư tín, abstract_prefix: 'Về việc ', body: ['Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05/3/2020 của Chính phủ,']}
state-ct: {base: state, number: 05/CT-UBND, date: 2027-01-18, type_key: CT, abstract: 'Về tăng cường kỷ luật, kỷ cương hành chính trong cơ quan nhà nước', body: ['Thời gian qua, công tác cải cách hành chính có nhiều chuyển biến.']}
state-tb-thuongkhan: {base: state, number: 412/TB-UBND, date: 2026-09-30, type_key: TB, abstract: ý kiến kết luận của Chủ tịch Ủy ban nhân dân tỉnh về ứng phó bão số 6, urgency: THƯỢNG KHẨN, body: ['Chiều ngày 29/9/2026, Chủ tịch Ủy ban nhân dân tỉnh chủ trì họp.']}
state-kh-nfd: {base: state, issuer: HUYỆN CAM LÂM, number: 87/KH-UBND, place: Cam Lâm, date: 2026-05-11, type_key: KH, abstract: thực hiện chuyển đổi số trong hoạt động của Ủy ban nhân dân huyện, signer: [TM. ỦY BAN NHÂN DÂN, CHỦ TỊCH, Hoàng Văn Hòa], urgency: KHẨN, nfd: true, body: ['Căn cứ Quyết định số 749/QĐ-TTg ngày 03/6/2020 của Thủ tướng,']}
state-bc-bimat: {base: state, superior: BỘ CÔNG AN, issuer: CÔNG AN TỈNH KHÁNH HÒA, number: 356/BC-CAT, date: 2026-07-14, type_key: BC, abstract: kết quả công tác bảo vệ bí mật nhà nước 6 tháng đầu năm 2026, signer: [KT. GIÁM ĐỐC, PHÓ GIÁM ĐỐC, Bùi Quang Huy], body: ['Công tác bảo vệ bí mật nhà nước được triển khai theo Luật Bảo vệ bí mật nhà nước; văn bản có độ Mật, Tối mật, Tuyệt mật được quản lý chặt chẽ; không để lộ mật khẩu, mật mã của hệ thống.']}
party-bc-giaimat: {base: party, number: 77-BC/TU, date: 2026-02-02, type_key: BC, abstract: tình hình an ninh chính trị nội bộ năm 2025, signer: [T/M BAN THƯỜNG VỤ, PHÓ BÍ THƯ, Nguyễn Văn An], giai_mat: true, body: ['Năm 2025, tình hình an ninh chính trị ổn định.']}
state-cv-mat: {base: state, superior: UBND TỈNH KHÁNH HÒA, issuer: SỞ NỘI VỤ, number: 98/SNV-TCBC, date: 2026-10-16, type_key: CV, abstract: phương án sắp xếp tổ chức bộ máy các cơ quan chuyên môn, signer: [KT. GIÁM ĐỐC, PHÓ GIÁM ĐỐC, Ngô Thanh Sơn], stamp: MẬT, classification: mat, kinh_gui: [Ủy ban nhân dân tỉnh], body: [Sở Nội vụ báo cáo phương án sắp xếp như sau.]}
party-tb-toimat: {base: party, number: 1306-TB/TU, date: 2026-12-01, type_key: TB, abstract: ý kiến của Ban Thường vụ Tỉnh ủy về công tác cán bộ, signer: [T/M BAN THƯỜNG VỤ, PHÓ BÍ THƯ, Nguyễn Văn An], stamp: TỐI MẬT, stamp_in_header: true, classification: toi_mat, body: ['Ngày 28/11/2026, Ban Thường vụ Tỉnh ủy họp và cho ý kiến.']}
state-qd-tuyetmat-khan: {base: state, number: 2201/QĐ-UBND, date: 2026-12-24, type_key: QD, abstract: phê duyệt phương án bảo vệ mục tiêu trọng điểm, abstract_prefix: 'Về việc ', urgency: KHẨN, stamp: TUYỆT MẬT, classification: tuyet_mat, body: ['Căn cứ Luật Tổ chức chính quyền địa phương ngày 19/6/2015,']}
state-gm-tight: {base: state, superior: UBND TỈNH KHÁNH HÒA, issuer: SỞ Y TẾ, number: 1502/GM-SYT, date: 2026-10-20, type_key: GM, abstract: 'dự hội nghị triển khai công tác phòng, chống dịch bệnh mùa mưa', signer: [KT. GIÁM ĐỐC, PHÓ GIÁM ĐỐC, Lý Văn Nam], urgency: KHẨN, tight: true, columns: [5.0, 11.5], body: [Sở Y tế trân trọng kính mời đại diện lãnh đạo đơn vị tới dự.]}
party-kl-tight: {base: party, number: 35-KL/TU, date: 2026-10-05, type_key: KL, abstract: của Ban Thường vụ Tỉnh ủy về tình hình kinh tế - xã hội quý III năm 2026, signer: [T/M BAN THƯỜNG VỤ, PHÓ BÍ THƯ, Nguyễn Văn An], tight: true, one_row_header: true, body: ['Ngày 01/10/2026, Ban Thường vụ Tỉnh ủy nghe báo cáo tình hình quý III.']}
state-cv-mat-tight: {base: state, superior: UBND TỈNH KHÁNH HÒA, issuer: SỞ NỘI VỤ, number: 101/SNV-TCBC, date: 2026-10-21, type_key: CV, abstract: danh sách cán bộ diện quy hoạch, signer: [KT. GIÁM ĐỐC, PHÓ GIÁM ĐỐC, Ngô Thanh Sơn], stamp: MẬT, stamp_in_header: true, tight: true, classification: mat, body: [Sở Nội vụ gửi danh sách như sau.]}
state-tb-toimat-wrapped: {base: state, number: 77/TB-UBND, date: 2026-11-03, type_key: TB, abstract: kết luận của Chủ tịch Ủy ban nhân dân tỉnh tại cuộc họp giao ban, stamp: TỐI MẬT, stamp_width: 2.0, font: 14.0, classification: toi_mat, body: ['Ngày 31/10/2026, Chủ tịch Ủy ban nhân dân tỉnh chủ trì họp.']}
"""


def documents() -> tuple[OfficeDocument, ...]:
    """Every document of :data:`SPECS`, its base filled in."""
    out: list[OfficeDocument] = []
    for name, spec in yaml.safe_load(SPECS).items():
        fields = {**_BASES[spec.pop("base")], **spec}
        for key in ("signer", "kinh_gui", "body", "columns"):
            if key in fields:
                fields[key] = tuple(fields[key])
        out.append(OfficeDocument(name=name, **fields))
    return tuple(out)


DOCUMENTS = documents()


def build(out: Path = OUT) -> None:
    """Write every document as PDF, and ``labels.yaml``, into ``out``."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        msg = (
            "LibreOffice (soffice) is needed: apt-get install libreoffice-writer-nogui"
        )
        raise SystemExit(msg)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.pdf"):
        stale.unlink()
    with tempfile.TemporaryDirectory(prefix="office-corpus-") as tmp:
        work = Path(tmp)
        sources = []
        for doc in DOCUMENTS:
            source = work / f"{doc.name}.fodt"
            source.write_text(fodt(doc), encoding="utf-8")
            sources.append(str(source))
        profile = (work / "profile").as_uri()
        subprocess.run(
            [
                soffice,
                f"-env:UserInstallation={profile}",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(out),
                *sources,
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    labels = {"items": {doc.name: doc.label() for doc in DOCUMENTS}}
    text = yaml.safe_dump(labels, allow_unicode=True, sort_keys=False)
    header = "# Generated by tests/data/make_office_corpus.py: do not edit by hand.\n"
    (out / "labels.yaml").write_text(header + text, encoding="utf-8")


if __name__ == "__main__":
    build()
