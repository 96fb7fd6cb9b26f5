"""The page-1 header of a document: number/symbol, place/date and issuer (DOMAIN.md 3).

Office suites lay the header out as a two-column table, so a cell's text may wrap:
"Khánh Hòa, ngày 20 tháng 11 năm" then "2026" on the next row, "Thành phố Hồ Chí
Minh," then "ngày 9 tháng 7 năm 2026", "Số: 2345/SNNPTNT-" then "KHTC".  Each
extracted row holds the pieces of both columns side by side (see
:func:`~mailbridge.extract.patterns.segments`), so a wrapped value is joined with a
piece of the next row.
"""

from __future__ import annotations

import re

from mailbridge.extract.normalise import canonical, fold
from mailbridge.extract.patterns import DATE, NUMBER_SYMBOL, date_iso, segments

__all__ = ["first_symbol", "issuer_text", "place_date"]

#: A place/date piece cut short at the end of a cell line (folded text).
_DATE_CUT = re.compile(
    r"\bngay\s*(?:\d{1,2}\s*(?:thang\s*(?:\d{1,2}\s*(?:nam\s*)?)?)?)?$",
    re.IGNORECASE,
)
#: A number/symbol cut after a dash or slash at the end of a cell line.
_SYMBOL_CUT = re.compile(r"([-/])(?:[ \t]{3,}[^\n]*)?\n")
#: The rest of a wrapped number/symbol on the next row: "KHTC", "QĐi/TU", "UBND-VP".
_SYMBOL_REST = re.compile(
    r"[0-9A-ZĐ][0-9A-Za-zĐđ.]*(?:[-/][0-9A-Za-zĐđ.]*[0-9A-Za-zĐđ])*"
)


def first_symbol(text: str) -> str | None:
    """The first "Số …" number/symbol in ``text``, joined over a wrapped cell line."""
    match = NUMBER_SYMBOL.search(fold(text))
    if match is None:
        return None
    symbol = text[match.start(1) : match.end(1)].rstrip(".")
    rest = text[match.end(1) :]
    cut = _SYMBOL_CUT.match(rest)
    if cut and match.end(1) == match.end(0):
        pieces = segments(rest[cut.end() :].split("\n", 1)[0])
        if pieces and _SYMBOL_REST.fullmatch(pieces[0]):
            symbol += cut.group(1) + pieces[0]
    return symbol


def _place(piece: str, start: int, symbol: str | None) -> str:
    place = piece[:start]
    if symbol and symbol in place:
        place = place.split(symbol, 1)[1]
    return re.sub(r"^.*\bSố\s*:?\s*\S+", "", place).strip(" ,.-*")


def _wrapped(piece: str, following: list[str]) -> tuple[str, re.Match[str]] | None:
    """``piece`` joined with a piece of the next rows into a whole place/date."""
    if _DATE_CUT.search(fold(piece)) is None:
        return None
    for row in following:
        for rest in segments(row)[::-1]:  # the date sits in the right column
            joined = f"{piece} {rest}"
            match = DATE.search(fold(joined))
            if match is not None and match.start() < len(piece) + 1:
                return joined, match
    return None


def place_date(text: str, symbol: str | None) -> tuple[str | None, str | None]:
    """(place, yyyy-mm-dd) of the first place/date line in ``text``.

    A place/date wrapped over two rows of a header cell is joined first; a place
    alone on the row above ("Thành phố Hồ Chí Minh,") is taken as the place.
    """
    rows = text.splitlines()
    for index, line in enumerate(rows):
        for column, piece in enumerate(segments(line)):
            match = DATE.search(fold(piece))
            whole = piece
            if match is None:
                found = _wrapped(piece, rows[index + 1 : index + 3])
                if found is None:
                    continue
                whole, match = found
            place = _place(whole, match.start(), symbol)
            if not place and index > 0:
                above = segments(rows[index - 1])
                if above and above[min(column, len(above) - 1)].endswith(","):
                    place = above[min(column, len(above) - 1)].strip(" ,.-*")
            return place or None, date_iso(*match.groups())
    return None, None


def issuer_text(header: str) -> str | None:
    """The issuing body named in the header's left column."""
    names: list[str] = []
    for line in header.splitlines():
        pieces = segments(line)
        if not pieces or fold(pieces[0]).upper().startswith("SO"):
            break
        first = pieces[0].strip(" *-_")
        folded = fold(canonical(first))
        motto = "CONG HOA" in folded or "DANG CONG SAN" in folded
        if first and first == first.upper() and not motto:
            names.append(first)
    if not names:
        return None
    party = "ĐẢNG CỘNG SẢN" in canonical(header)
    return names[-1] if party and len(names) > 1 else " ".join(names)
