"""The classification gate: find MẬT / TỐI MẬT / TUYỆT MẬT marks (DOMAIN.md sections 4-5).

A mark is a whole line, a segment of a line that stands apart (three spaces or
more, a tab, ``|``), a bracketed token, or the "Độ mật: …" field.  In a subject or
a file name it is also a leading or trailing token set off by a separator
("MẬT - Kế hoạch …", "TỐI MẬT: …").  Prose that mentions secrecy ("bí mật nhà
nước", "văn bản có độ Mật, Tối mật …", "GIẢI MẬT") is not a mark.  What cannot be
read (pages without a text layer, legacy encodings, OCR'd pages without a stamp,
attachments mailbridge cannot open) cannot be cleared and is listed in
``unreadable``: the pipeline holds such a message for a clerk.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType

from mailbridge.codes import Classification
from mailbridge.extract.metadata import parse_structured
from mailbridge.extract.normalise import canonical, fold, normalise
from mailbridge.extract.text import PdfText
from mailbridge.message import Attachment, ParsedMessage, html_text

__all__ = [
    "ClassificationFinding",
    "ClassificationResult",
    "classify_message",
    "find_marks",
    "find_token_marks",
]

LEVELS = {
    "MẬT": Classification.MAT,
    "TỐI MẬT": Classification.TOI_MAT,
    "TUYỆT MẬT": Classification.TUYET_MAT,
}
_FOLDED = {fold(key): value for key, value in LEVELS.items()}
_RANK = {Classification.MAT: 1, Classification.TOI_MAT: 2, Classification.TUYET_MAT: 3}
_STRIP = " \t-:;.,!*_=|[](){}<>\"'“”‘’«»•#/\\"
_SEGMENTS = re.compile(r"\s{3,}|\t|\|")
_BRACKETED = re.compile(r"[\[(]\s*([^\[\]()]{1,20}?)\s*[\])]")
_DO_MAT = re.compile(r"^ĐỘ MẬT\s*:?\s*(.+)$")
_SEPARATORS = re.compile(r"\s+[-:|/]\s+|\s*[:\[\]()]\s*|\s-\s*|\s*-\s")
_REPLY = re.compile(r"^\s*(?:re|fw|fwd|tl|tr|trả lời|chuyển tiếp)\s*:\s*", re.I)
_SKIPPED_TYPES = frozenset(
    {
        "application/pgp-signature",
        "application/pgp-keys",
        "application/pkcs7-signature",
        "application/x-pkcs7-signature",
        "message/delivery-status",
    }
)
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class ClassificationFinding:
    """One classification mark: its level, where it was found and the text seen."""

    level: Classification
    source: str
    text: str


@dataclass(frozen=True)
class ClassificationResult:
    """The gate's answer for one message."""

    level: Classification | None
    findings: tuple[ClassificationFinding, ...]
    unreadable: tuple[str, ...]

    @property
    def classified(self) -> bool:
        """A mark was found: the message is refused."""
        return self.level is not None

    @property
    def uncertain(self) -> bool:
        """No mark found, but something could not be read: hold for a clerk."""
        return not self.classified and bool(self.unreadable)

    def summary(self) -> str:
        """One line for the trace and the register."""
        if self.level is not None:
            seen = "; ".join(f"{f.text!r} in {f.source}" for f in self.findings[:3])
            return f"classified {self.level.value}: {seen}"
        if self.unreadable:
            return "uncertain: could not read " + ", ".join(self.unreadable[:5])
        return "clear: no classification mark"


def _level(segment: str, *, loose: bool) -> Classification | None:
    """The level named by a whole segment, or None."""
    text = canonical(segment).strip(_STRIP)
    found = LEVELS.get(text)
    if found is None and loose:
        found = _FOLDED.get(fold(text))
    return found


def find_marks(
    text: str, source: str, *, loose: bool = False
) -> list[ClassificationFinding]:
    """Marks in ``text``: whole lines or standalone segments in capitals, bracketed
    capitals, "Độ mật: …", and a stamp wrapped over two lines ("TỐI" above "MẬT").
    ``loose`` (for OCR text) also accepts marks whose diacritics were misread."""
    found: list[ClassificationFinding] = []
    lines = normalise(text).splitlines()
    for line in lines:
        pieces = [line, *_SEGMENTS.split(line)]
        pieces += [m.group(1) for m in _BRACKETED.finditer(line)]
        for piece in pieces:
            stripped = piece.strip(_STRIP)
            if not stripped:
                continue
            level = None
            if stripped == stripped.upper():
                level = _level(stripped, loose=loose)
            field = _DO_MAT.match(canonical(stripped))
            if level is None and field is not None:
                level = _level(field.group(1), loose=loose)
            if level is not None:
                found.append(ClassificationFinding(level, source, stripped))
                break
    return found + _wrapped_marks(lines, source, loose=loose)


_WRAPPED = {"TỐI": "TỐI MẬT", "TUYỆT": "TUYỆT MẬT"}


def _caps_pieces(line: str) -> list[str]:
    """The standalone pieces of ``line`` that are in capitals, stripped."""
    pieces = [piece.strip(_STRIP) for piece in _SEGMENTS.split(line)]
    return [piece for piece in pieces if piece and piece == piece.upper()]


def _wrapped_marks(
    lines: list[str], source: str, *, loose: bool
) -> list[ClassificationFinding]:
    """A stamp wrapped in a narrow box: "TỐI" or "TUYỆT" alone, "MẬT" alone below."""
    found: list[ClassificationFinding] = []
    for line, below in pairwise(lines):
        lower = [_level(piece, loose=loose) for piece in _caps_pieces(below)]
        if Classification.MAT not in lower:
            continue
        for piece in _caps_pieces(line):
            word = canonical(piece)
            for first, mark in _WRAPPED.items():
                if word == first or (loose and fold(word) == fold(first)):
                    found.append(ClassificationFinding(LEVELS[mark], source, mark))
    return found


def find_token_marks(text: str, source: str) -> list[ClassificationFinding]:
    """Marks in a subject or file name: a leading, trailing or bracketed token."""
    value = normalise(text).strip()
    while _REPLY.match(value):
        value = _REPLY.sub("", value, count=1)
    parts = [p for p in _SEPARATORS.split(value) if p.strip(_STRIP)]
    candidates = [m.group(1) for m in _BRACKETED.finditer(value)]
    if parts:
        candidates += [parts[0], parts[-1]]
    words = value.split()
    for run in (_caps_run(words), _caps_run(words[::-1])[::-1]):
        candidates.append(" ".join(run))
    found = find_marks(text, source)
    for candidate in candidates:
        level = _level(candidate, loose=False)
        ascii_caps = candidate.strip(_STRIP)
        if level is None and ascii_caps.isascii() and ascii_caps.isupper():
            level = _FOLDED.get(canonical(ascii_caps).strip(_STRIP))
        if level is not None:
            found.append(ClassificationFinding(level, source, candidate.strip()))
    return list(dict.fromkeys(found))


def _filename_marks(filename: str) -> list[ClassificationFinding]:
    """Marks in a file name: a token sequence in capitals at either end
    ("MAT_ke_hoach.pdf", "bao-cao-TOI-MAT.pdf"), or as in a subject."""
    source = f"attachment-name:{filename}"
    stem = normalise(filename).rsplit(".", 1)[0]
    found = find_token_marks(stem.replace("_", " "), source)
    tokens = [t for t in re.split(r"[\s_.\-]+", stem) if t]
    for size in (1, 2):
        for edge in (tokens[:size], tokens[-size:]):
            candidate = " ".join(edge)
            if len(edge) == size and candidate == candidate.upper():
                level = LEVELS.get(canonical(candidate)) or _FOLDED.get(fold(candidate))
                if level is not None:
                    found.append(ClassificationFinding(level, source, candidate))
    return list(dict.fromkeys(found))


def _caps_run(words: list[str]) -> list[str]:
    run: list[str] = []
    for word in words:
        core = word.strip(_STRIP)
        if not core or core != core.upper() or not any(c.isalpha() for c in core):
            break
        run.append(word)
    return run


_SECRECY_KEYS = (
    "secret",
    "security",
    "confidential",
    "classification",
    "domat",
    "do_mat",
)
_KEY_LEVELS = {level.value: level for level in Classification}
_NOT_SECRET = frozenset({"", "0", "none", "thuong", "binh thuong", "khong", "normal"})


def _structured_marks(
    part: Attachment,
) -> tuple[list[ClassificationFinding], list[str]] | None:
    """Marks in an edXML or JSON part; None when the part is neither."""
    parsed = parse_structured(part)
    if parsed is None:
        return None
    kind, pairs = parsed
    if kind == "unreadable":
        return [], [f"attachment:{part.filename}"]
    found: list[ClassificationFinding] = []
    unreadable: list[str] = []
    for key, value in pairs:
        leaf = key.rsplit("/", 1)[-1].lower()
        source = f"{kind}:{key}"
        level = _level(value, loose=False) if len(value) < 40 else None
        if level is None and any(word in leaf for word in _SECRECY_KEYS):
            level = _KEY_LEVELS.get(value.strip().lower())
            if level is None and fold(value.strip().lower()) not in _NOT_SECRET:
                unreadable.append(source)
        if level is not None:
            found.append(ClassificationFinding(level, source, value.strip()))
            continue
        marks = find_marks(value, source)
        if leaf in ("subject", "title", "trich_yeu", "abstract"):
            marks += find_token_marks(value, source)
        found += marks
    return found, unreadable


def _attachment(
    part: Attachment,
    pdf_texts: Mapping[str, PdfText],
    office_texts: Mapping[str, str],
) -> tuple[list[ClassificationFinding], list[str]]:
    name = part.filename
    lower = name.lower()
    if part.is_pdf:
        pdf = pdf_texts.get(name)
        if pdf is None or pdf.error is not None:
            return [], [f"pdf:{name}"]
        found: list[ClassificationFinding] = []
        unreadable: list[str] = []
        uncleared = set(pdf.uncleared_pages)
        for index, page in enumerate(pdf.pages):
            source = f"pdf:{name}:page {index + 1}"
            ocr = index in pdf.ocr_pages
            marks = find_marks(page, source, loose=ocr)
            found += marks
            if index in uncleared or (ocr and not marks):
                unreadable.append(source)
        return found, unreadable
    if lower.endswith((".docx", ".odt")):
        office = office_texts.get(name)
        if office is None:
            return [], [f"attachment:{name}"]
        return find_marks(office, f"office:{name}"), []
    structured = _structured_marks(part)
    if structured is not None:
        return structured
    if part.content_type.startswith("text/"):
        text = part.data.decode("utf-8", "replace")
        if part.content_type == "text/html":
            text = html_text(text)
        return find_marks(text, f"attachment:{name}"), []
    if part.content_type in _SKIPPED_TYPES or lower.endswith((".sig", ".p7s", ".asc")):
        return [], []
    return [], [f"attachment:{name or part.content_type}"]


def classify_message(
    msg: ParsedMessage,
    pdf_texts: Mapping[str, PdfText],
    office_texts: Mapping[str, str] = _EMPTY,
) -> ClassificationResult:
    """Look at the subject, body, attachment names and contents of ``msg``."""
    findings = find_token_marks(msg.subject, "subject")
    findings += find_marks(msg.body_text, "body")
    if msg.html_body_text and msg.html_body_text != msg.body_text:
        findings += find_marks(msg.html_body_text, "body")
    unreadable: list[str] = []
    for part in msg.attachments:
        if part.filename:
            findings += _filename_marks(part.filename)
        found, missing = _attachment(part, pdf_texts, office_texts)
        findings += found
        unreadable += missing
    level = max((f.level for f in findings), key=_RANK.__getitem__, default=None)
    return ClassificationResult(
        level, tuple(dict.fromkeys(findings)), tuple(dict.fromkeys(unreadable))
    )
