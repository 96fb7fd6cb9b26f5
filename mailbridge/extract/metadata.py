"""The Article 11 items of a document, from its PDF text, the mail and edXML/JSON parts.

Each value comes with where it was found and a confidence (0..1).  An edXML or JSON
part wins over the PDF; the top quarter of page 1 wins over the rest of page 1,
which wins over the mail subject.  Text that came from OCR lowers the confidence.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any
from xml.etree import ElementTree

from mailbridge.codes import DOCUMENT_TYPE_NAMES, URGENCY_PRIORITY, Urgency
from mailbridge.extract.header import first_symbol, issuer_text, place_date
from mailbridge.extract.normalise import canonical, fold, normalise
from mailbridge.extract.patterns import (
    DEADLINE,
    SYMBOL,
    TYPE_NAMES,
    abstract_text,
    date_iso,
    recipients,
    segments,
    signature_block,
    subject_abstract,
    subject_pieces,
    type_line,
    type_of_symbol,
    urgency_in,
)
from mailbridge.extract.text import PdfText
from mailbridge.message import Attachment, ParsedMessage

__all__ = ["DocumentMetadata", "Field", "extract_metadata", "parse_structured"]


@dataclass(frozen=True)
class Field:
    """One extracted value, where it came from, and how sure the extractor is."""

    value: str | None
    source: str
    confidence: float

    @property
    def ok(self) -> bool:
        """A value was found with a confidence of at least 0.6."""
        return self.value is not None and self.confidence >= 0.6

    def as_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "confidence": round(self.confidence, 3),
        }


NONE = Field(None, "none", 0.0)
_OPTIONAL = ("deadline", "identifier_code")


@dataclass(frozen=True)
class DocumentMetadata:
    """The Article 11 items mailbridge reads from a document (DOMAIN.md section 2)."""

    number_symbol: Field
    issue_date: Field
    place: Field
    document_type: Field
    document_type_name: Field
    urgency: Field
    abstract: Field
    signer_name: Field
    signer_position: Field
    issuer: Field
    recipients: tuple[str, ...]
    deadline: Field
    identifier_code: Field
    low_confidence: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """Every item was read with a confidence of at least 0.6."""
        return not self.low_confidence

    def as_json(self) -> dict[str, Any]:
        """Every field as ``{"value", "source", "confidence"}``, plus the lists."""
        out: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = (
                value.as_json() if isinstance(value, Field) else list(value)
            )
        return out


def _xml_pairs(
    element: ElementTree.Element, path: str, out: list[tuple[str, str]]
) -> None:
    name = element.tag.rsplit("}", 1)[-1]
    here = f"{path}/{name}" if path else name
    if element.text and element.text.strip():
        out.append((here, element.text.strip()))
    for attr, value in element.attrib.items():
        out.append((f"{here}@{attr.rsplit('}', 1)[-1]}", value))
    for child in element:
        _xml_pairs(child, here, out)


def _json_pairs(value: object, path: str, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _json_pairs(child, f"{path}/{key}" if path else str(key), out)
    elif isinstance(value, list):
        for child in value:
            _json_pairs(child, path, out)
    elif value is not None:
        out.append((path, str(value)))


def parse_structured(part: Attachment) -> tuple[str, list[tuple[str, str]]] | None:
    """(kind, [(path, value), ...]) of an edXML/XML or JSON part; None otherwise.

    ``kind`` is "edxml", "xml", "json", or "unreadable" for a part that claims to
    be one of them but cannot be parsed.  Paths use local element names joined by
    "/" ("edXML/edXMLEnvelope/edXMLHeader/MessageHeader/From/OrganId").
    """
    name = part.filename.lower()
    ctype = part.content_type
    pairs: list[tuple[str, str]] = []
    if ctype == "application/json" or name.endswith(".json"):
        try:
            _json_pairs(json.loads(part.data.decode("utf-8-sig")), "", pairs)
        except (ValueError, RecursionError):
            return "unreadable", []
        return "json", pairs
    if ctype in ("application/xml", "text/xml") or name.endswith((".xml", ".edxml")):
        if b"<!DOCTYPE" in part.data or b"<!ENTITY" in part.data:
            return "unreadable", []
        try:
            # no DTD (checked above), so no entity expansion: safe to parse
            root = ElementTree.fromstring(part.data)  # noqa: S314
        except ElementTree.ParseError:
            return "unreadable", []
        _xml_pairs(root, "", pairs)
        kind = "edxml" if "edxml" in fold(root.tag).lower() else "xml"
        return kind, pairs
    return None


def _structured(msg: ParsedMessage) -> dict[str, tuple[str, str]]:
    """Leaf name -> (value, kind) from the first edXML or JSON part."""
    for part in msg.attachments:
        parsed = parse_structured(part)
        if parsed is None or parsed[0] not in ("edxml", "json"):
            continue
        kind, pairs = parsed
        out: dict[str, tuple[str, str]] = {}
        for path, value in pairs:
            parts = path.split("/")
            leaf = (
                "/".join(parts[-2:])
                if parts[-1] in ("OrganId", "OrganName")
                else parts[-1]
            )
            if parts[-1] == "value" and len(parts) > 1:
                leaf = parts[-2]
            out.setdefault(leaf, (normalise(value).strip(), kind))
        return out
    return {}


class _Reader:
    """The sources of one document, and one method per group of items."""

    def __init__(self, pdf: PdfText | None, msg: ParsedMessage) -> None:
        self.msg = msg
        self.pdf = pdf
        self.page1 = pdf.pages[0] if pdf and pdf.pages else ""
        self.header = pdf.header if pdf else ""
        self.last = pdf.pages[-1] if pdf and pdf.pages else ""
        self.ocr = 0.7 if pdf and 0 in pdf.ocr_pages else 1.0
        self.lines = self.page1.splitlines()
        self.got = _structured(msg)

    def pick(self, *keys: str) -> Field | None:
        """The first structured value among ``keys``."""
        for key in keys:
            value, kind = self.got.get(key, ("", ""))
            if value:
                return Field(value, kind, 0.95)
        return None

    def pdf_field(self, value: str | None, source: str, confidence: float) -> Field:
        return Field(value, source, confidence * self.ocr) if value else NONE

    def number(self) -> tuple[Field, str | None]:
        symbol = first_symbol(self.header)
        number = self.pdf_field(symbol, "pdf:header", 0.95)
        if symbol is None and (symbol := first_symbol(self.page1)):
            number = self.pdf_field(symbol, "pdf:page-1", 0.7)
        if symbol is None and (match := SYMBOL.search(self.msg.subject)):
            number = Field(match.group(1), "subject", 0.6)
        code, notation = self.pick("CodeNumber"), self.pick("CodeNotation")
        if code and code.value and notation and notation.value:
            party = "/" in notation.value and not notation.value[:4].isdigit()
            joined = f"{code.value}{'-' if party else '/'}{notation.value}"
            number = Field(joined, code.source, 0.95)
        return self.pick("number_symbol") or number, symbol

    def place_date(self, symbol: str | None) -> tuple[Field, Field]:
        place_text, date = place_date(self.header, symbol)
        source = "pdf:header"
        if date is None:
            place_text, date = place_date(self.page1, symbol)
            source = "pdf:page-1"
        issue = self.pdf_field(date, source, 0.95)
        place = self.pdf_field(place_text, source, 0.8)
        given = self.pick("PromulgationDate", "issue_date")
        if given and given.value and (ymd := _structured_date(given.value)):
            issue = Field(ymd, given.source, 0.95)
        return issue, self.pick("Place", "place") or place

    def kind(self, symbol: str | None) -> tuple[Field, Field, int | None]:
        found = type_line(self.lines)
        row: int | None = None
        if found is not None:
            row, key, name = found
            kind = self.pdf_field(key, "pdf:page-1", 0.95)
            kind_name = self.pdf_field(name, "pdf:page-1", 0.95)
        else:
            sure = 0.9 if type_of_symbol(symbol or "") in (None, "CV") else 0.5
            kind = Field("CV", "default", sure * self.ocr if self.page1 else 0.3)
            kind_name = Field(DOCUMENT_TYPE_NAMES["CV"], "default", kind.confidence)
        given = self.pick("TypeName", "document_type_name")
        if given and given.value:
            key_of = TYPE_NAMES.get(canonical(given.value), "OTHER")
            kind, kind_name = Field(key_of, given.source, 0.95), given
        return kind, kind_name, row

    def abstract(self, row: int | None) -> Field:
        text = abstract_text(self.lines, row)
        abstract = self.pdf_field(text, "pdf:page-1", 0.9)
        if text is None and (rest := subject_abstract(self.msg.subject)):
            abstract = Field(rest, "subject", 0.5)
        return self.pick("Subject", "abstract") or abstract

    def urgency(self) -> Field:
        urgency = Field(Urgency.THUONG.value, "default", 0.9 * self.ocr)
        on_page = urgency_in([p for line in self.lines for p in segments(line)])
        in_subject = urgency_in(subject_pieces(self.msg.subject))
        if on_page:
            urgency = self.pdf_field(on_page.value, "pdf:page-1", 0.95)
        if in_subject and (
            on_page is None or URGENCY_PRIORITY[in_subject] > URGENCY_PRIORITY[on_page]
        ):
            urgency = Field(in_subject.value, "subject", 0.85)
        priority = self.pick("Priority")
        if priority and priority.value and priority.value.isdigit():
            by_number = {v: k for k, v in URGENCY_PRIORITY.items()}
            if (found := by_number.get(int(priority.value))) is not None:
                urgency = Field(found.value, priority.source, 0.95)
        return self.pick("urgency") or urgency

    def signer(self, from_certificate: str | None) -> tuple[Field, Field]:
        position_text, name = signature_block(self.last)
        signer = self.pdf_field(name, "pdf:last-page", 0.85)
        if from_certificate and name is None:
            signer = Field(normalise(from_certificate), "certificate", 0.8)
        elif from_certificate and canonical(name or "") == canonical(from_certificate):
            signer = Field(name, "pdf:last-page", 0.95)
        position = self.pdf_field(position_text, "pdf:last-page", 0.8)
        return (
            self.pick("FullName", "signer_name") or signer,
            self.pick("Position", "signer_position") or position,
        )

    def deadline(self) -> Field:
        pages = "\n".join(self.pdf.pages) if self.pdf else ""
        found = NONE
        for where, text in (("pdf", pages), ("body", self.msg.body_text)):
            match = DEADLINE.search(fold(normalise(text)))
            if match and (ymd := date_iso(*match.groups())):
                found = Field(ymd, where, 0.8)
                break
        due = self.pick("DueDate", "deadline")
        if due and due.value and (ymd := _structured_date(due.value)):
            found = Field(ymd, due.source, 0.95)
        return found


def _structured_date(value: str) -> str | None:
    """yyyy-mm-dd of "yyyy/MM/dd", "yyyy-mm-dd" or "dd/MM/yyyy" (time ignored)."""
    numbers = re.findall(r"\d+", value)[:3]
    if len(numbers) < 3:
        return None
    return date_iso(*(numbers[::-1] if len(numbers[0]) == 4 else numbers))


def extract_metadata(
    pdf: PdfText | None,
    msg: ParsedMessage,
    *,
    signer_from_certificate: str | None = None,
) -> DocumentMetadata:
    """The Article 11 items of the document in ``msg`` (``pdf``: its main PDF)."""
    read = _Reader(pdf, msg)
    number, symbol = read.number()
    issue, place = read.place_date(symbol)
    kind, kind_name, row = read.kind(symbol)
    signer, position = read.signer(signer_from_certificate)
    issuer = read.pdf_field(issuer_text(read.header), "pdf:header", 0.7)
    items = {
        "number_symbol": number,
        "issue_date": issue,
        "place": place,
        "document_type": kind,
        "document_type_name": kind_name,
        "urgency": read.urgency(),
        "abstract": read.abstract(row),
        "signer_name": signer,
        "signer_position": position,
        "issuer": read.pick("From/OrganName", "issuer") or issuer,
        "deadline": read.deadline(),
        "identifier_code": read.pick("From/OrganId", "identifier_code") or NONE,
    }
    low = tuple(
        name
        for name, item in items.items()
        if item.confidence < 0.6 and not (name in _OPTIONAL and item.value is None)
    )
    return DocumentMetadata(
        recipients=recipients(read.page1, read.last), low_confidence=low, **items
    )
