"""Patterns of page 1 and the last page of a document (DOMAIN.md section 3).

Keyword patterns run on the :func:`~mailbridge.extract.normalise.fold`-ed text (so
"ngay 20 thang 11" from a poor OCR still matches) and values are cut from the
normalised text at the same positions, so "Đ" in a number/symbol is kept.
"""

from __future__ import annotations

import datetime as dt
import re

from mailbridge.codes import DOCUMENT_TYPE_NAMES, URGENCY_PRIORITY, Urgency
from mailbridge.extract.normalise import canonical, fold, normalise

__all__ = [
    "ABSTRACT_PREFIX",
    "DATE",
    "DEADLINE",
    "NUMBER_SYMBOL",
    "SEGMENTS",
    "SIGN_AUTHORITY",
    "SYMBOL",
    "TYPE_NAMES",
    "URGENCY_MARKS",
    "abstract_text",
    "date_iso",
    "recipients",
    "segments",
    "signature_block",
    "subject_abstract",
    "subject_pieces",
    "type_line",
    "type_of_symbol",
    "urgency_in",
]

#: "Số 917-CV/VPTU", "Số: 123/UBND-VP", "Số: 30/2020/NĐ-CP" (run on folded text).
NUMBER_SYMBOL = re.compile(
    r"\b[Ss][Oo]\s*[:.]?\s*(\d{1,6}(?:[-/][0-9A-Za-z.]*[0-9A-Za-z])+)"
)
#: A number/symbol anywhere (a subject): at least one letter after the number.
SYMBOL = re.compile(
    r"(?<![\w/-])(\d{1,6}(?:[-/][0-9A-Za-z.]*[0-9A-Za-z])*[-/][A-Za-z]+(?:[-/][0-9A-Za-z]+)*)"
)
#: "{place}, ngày {d} tháng {m} năm {yyyy}" (folded, case-insensitive).
DATE = re.compile(
    r"ngay\s*(\d{1,2})\s*thang\s*(\d{1,2})\s*nam\s*(\d{4})", re.IGNORECASE
)
#: "V/v", "Về việc" at the start of an abstract (folded, case-insensitive).
ABSTRACT_PREFIX = re.compile(r"^\s*(?:v\s*/\s*v|ve\s+viec)\s*[:.,]?\s*", re.IGNORECASE)
#: Authority of a signature block: T/M, K/T, T/L (Party); TM., KT., TL., TUQ., Q.
SIGN_AUTHORITY = re.compile(r"^(?:T/M|K/T|T/L|TM\.|KT\.|TL\.|TUQ\.|Q\.)\s*")
#: Pieces of one extracted row that stand apart.
SEGMENTS = re.compile(r"\s{3,}")

#: Canonical type-name line -> type key.
TYPE_NAMES: dict[str, str] = {
    canonical(name): key for key, name in DOCUMENT_TYPE_NAMES.items() if key != "OTHER"
}
#: Canonical urgency mark -> urgency.
URGENCY_MARKS: dict[str, Urgency] = {
    "KHẨN": Urgency.KHAN,
    "THƯỢNG KHẨN": Urgency.THUONG_KHAN,
    "HỎA TỐC": Urgency.HOA_TOC,
    "HỎA TỐC HẸN GIỜ": Urgency.HOA_TOC_HEN_GIO,
}
#: Type codes in a symbol that name one type only ("QĐ", "CT", "TT" are ambiguous).
_SYMBOL_TYPES = {
    "NQ": "NQ",
    "QĐI": "QDI",
    "KL": "KL",
    "QC": "QC",
    "HD": "HD",
    "HĐ": "OTHER",
    "TB": "TB",
    "BC": "BC",
    "TTR": "TTR",
    "KH": "KH",
    "CTR": "CTR",
    "ĐA": "DA",
    "PA": "PA",
    "BB": "BB",
    "CV": "CV",
    "CĐ": "CD",
    "GM": "GM",
    "GGT": "GGT",
    "BS": "BS",
    "NĐ": "ND",
}


def segments(line: str) -> list[str]:
    """The pieces of an extracted row, stripped."""
    return [piece.strip() for piece in SEGMENTS.split(line) if piece.strip()]


def type_of_symbol(symbol: str) -> str | None:
    """The type key a number/symbol names unambiguously, else None.

    Party ``917-CV/VPTU`` names its type before the slash; state ``1500/QĐ-BTC`` and
    ``30/2020/NĐ-CP`` after the number (and year).
    """
    party = re.match(r"^\d+-([^/]+)/", symbol)
    state = re.match(r"^\d+/(?:\d{4}/)?([^-/]+)-", symbol)
    match = party or state
    if match is None:
        return None
    return _SYMBOL_TYPES.get(match.group(1).upper())


def _is_name(text: str) -> bool:
    words = text.split()
    return 2 <= len(words) <= 5 and all(
        word.isalpha() and word[0].isupper() and word[1:] == word[1:].lower()
        for word in words
    )


def _is_position(text: str) -> bool:
    return (
        text == text.upper()
        and any(char.isalpha() for char in text)
        and not text.startswith("-")
        and ";" not in text
        and ":" not in text
    )


def signature_block(text: str) -> tuple[str | None, str | None]:
    """(position, name) of the signature block on the last page.

    Read bottom-up: the signer's name is the last piece of a row, in title case,
    below a row whose last piece is the position in capitals (an authority prefix
    such as "KT." on that row is dropped).
    """
    rows = text.splitlines()
    for index in range(len(rows) - 1, -1, -1):
        pieces = segments(rows[index])
        if not pieces or not _is_name(pieces[-1]):
            continue
        for above in rows[max(0, index - 8) : index][::-1]:
            upper = segments(above)
            if upper and _is_position(upper[-1].strip(" .")):
                position = SIGN_AUTHORITY.sub("", upper[-1].strip(" ."))
                return position, pieces[-1]
    return None, None


def _list_items(rows: list[str], start: int, limit: int) -> list[str]:
    items: list[str] = []
    for row in rows[start : start + limit]:
        for piece in segments(row):
            if piece.startswith(("-", "+", "•")):
                item = piece.lstrip("-+• ").rstrip(" ;,.")
                folded = fold(item).lower()
                if item and not folded.startswith(("luu", "nhu tren", "nhu dieu")):
                    items.append(item)
                break
    return items


def recipients(page1: str, last: str) -> tuple[str, ...]:
    """The "Kính gửi:" addressees of page 1 and the "Nơi nhận:" list of the last page."""
    found: list[str] = []
    rows = page1.splitlines()
    for index, row in enumerate(rows):
        piece = next(
            (p for p in segments(row) if fold(p).lower().startswith("kinh gui")), None
        )
        if piece is not None:
            rest = piece.split(":", 1)[1].strip(" ;,.") if ":" in piece else ""
            found += [rest] if rest else _list_items(rows, index + 1, 8)
            break
    rows = last.splitlines()
    for index, row in enumerate(rows):
        if any(fold(p).lower().startswith("noi nhan") for p in segments(row)):
            found += _list_items(rows, index + 1, 20)
            break
    return tuple(dict.fromkeys(found))


def date_iso(day: str, month: str, year: str) -> str | None:
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


def type_line(lines: list[str]) -> tuple[int, str, str] | None:
    """(row index, key, printed name) of the first type-name line."""
    for index, line in enumerate(lines):
        for piece in segments(line):
            name = piece.strip(" .:*")
            if name and name == name.upper():
                key = TYPE_NAMES.get(canonical(name))
                if key is None:
                    key = {fold(k): v for k, v in TYPE_NAMES.items()}.get(
                        fold(canonical(name))
                    )
                if key is not None:
                    return index, key, name
    return None


_BODY_START = re.compile(r"^(can cu|kinh gui|dieu \d|[-*_=.]{3,})", re.IGNORECASE)


def _caps(text: str) -> bool:
    return text == text.upper() and any(char.isalpha() for char in text)


def abstract_text(lines: list[str], after: int | None) -> str | None:
    """The abstract: the lines after the type-name row, or a "V/v …" segment."""
    taken: list[str] = []
    if after is not None:
        for line in lines[after + 1 : after + 5]:
            if not line.strip() and taken:
                break
            if not line.strip():
                continue
            if _BODY_START.match(fold(line.strip())):
                break
            taken.append(" ".join(segments(line)))
    else:
        for index, line in enumerate(lines[:40]):
            pieces = segments(line)
            hit = next((p for p in pieces if ABSTRACT_PREFIX.match(fold(p))), None)
            if hit is None:
                continue
            taken.append(hit)
            for follow in lines[index + 1 : index + 7]:
                nxt = segments(follow)
                if not nxt or _caps(nxt[0]) or _BODY_START.match(fold(nxt[0])):
                    break
                taken.append(nxt[0])
            break
    if not taken:
        return None
    text = " ".join(taken)
    prefix = ABSTRACT_PREFIX.match(fold(text))
    text = text[prefix.end() :] if prefix else text
    return re.sub(r"\s+", " ", text).strip(" .") or None


def urgency_in(pieces: list[str]) -> Urgency | None:
    best: Urgency | None = None
    for piece in pieces:
        core = piece.strip(" -:[]().*")
        if core and core == core.upper():
            found = URGENCY_MARKS.get(canonical(core))
            if found and (
                best is None or URGENCY_PRIORITY[found] > URGENCY_PRIORITY[best]
            ):
                best = found
    return best


def subject_pieces(subject: str) -> list[str]:
    value = normalise(subject)
    pieces = re.split(r"\s+[-:|]\s+|[\[\]():]", value)
    words = value.split()
    caps: list[str] = []
    for word in words:
        if word != word.upper() or not any(c.isalpha() for c in word):
            break
        caps.append(word)
    return [*pieces, " ".join(caps)]


def subject_abstract(subject: str) -> str | None:
    """The abstract a mail subject gives: after "V/v", else without number and marks."""
    value = normalise(subject).strip()
    found = re.search(r"\b(?:v\s*/\s*v|ve\s+viec)\b\s*[:.,]?\s*", fold(value), re.I)
    if found:
        return value[found.end() :].strip(" -:.,") or None
    value = SYMBOL.sub("", value)
    value = re.sub(r"(?i)\b(?:số|so)\b\s*[:.]?", "", value)
    pieces = [p for p in re.split(r"\s+[-:|]\s+|\s*[\[\]]\s*", value) if p.strip()]
    kept = [p for p in pieces if canonical(p).strip(" -:.") not in URGENCY_MARKS]
    return " - ".join(p.strip(" -:.,") for p in kept).strip(" -:.,") or None


DEADLINE = re.compile(
    r"truoc ngay\s*(\d{1,2})\s*(?:[/.-]|thang)\s*(\d{1,2})\s*(?:[/.-]|nam)\s*(\d{4})",
    re.IGNORECASE,
)
