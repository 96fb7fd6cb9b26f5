"""Text of a document: PDF pages (pdfminer.six, OCR fallback) and DOCX/ODT files.

A PDF page becomes rows of text, top to bottom; pieces of one row that stand apart
(two-column headers, a stamp beside the number) are joined with three spaces, and a
wide vertical gap becomes an empty line.  Pages without a text layer and pages
whose text layer is legacy-encoded (TCVN3/VNI fonts extract as "Uû ban nh©n d©n")
are rasterised with poppler's ``pdftoppm`` and read with the ``tesseract`` CLI,
within one time budget per document.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any
from xml.etree import ElementTree

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTContainer, LTFigure, LTImage, LTTextLine
from pdfminer.psparser import PSException

from mailbridge.extract.normalise import fold, normalise

__all__ = ["PdfText", "extract_office_text", "extract_pdf_text", "looks_like_mojibake"]

log = logging.getLogger("mailbridge.extract")

MAX_PAGES = 300
MIN_LETTERS = 10  # fewer letters than this: no usable text layer
_VIET_LATIN1 = set("àáâãèéêìíòóôõùúýÀÁÂÃÈÉÊÌÍÒÓÔÕÙÚÝ")
_PDFTOPPM = ("pdftoppm", "-r", "200", "-gray", "-png", "-singlefile")
_CID = re.compile(r"\(cid:\d+\)")


@dataclass(frozen=True)
class PdfText:
    """The text of one PDF, page by page, and what could not be read."""

    pages: tuple[str, ...]
    header: str
    unreadable_pages: tuple[int, ...]
    ocr_pages: tuple[int, ...]
    mojibake_pages: tuple[int, ...]
    error: str | None = None

    @property
    def uncleared_pages(self) -> tuple[int, ...]:
        """Pages with no trustworthy text layer: unreadable, or mojibake not OCR'd."""
        bad = set(self.unreadable_pages) | (
            set(self.mojibake_pages) - set(self.ocr_pages)
        )
        return tuple(sorted(bad))

    @property
    def readable(self) -> bool:
        """No error and every page has usable text."""
        return self.error is None and not self.uncleared_pages


@dataclass(frozen=True)
class _Line:
    x0: float
    top: float  # distance from the top of the page
    bottom: float
    text: str


def looks_like_mojibake(raw: str) -> bool:
    """True when a text layer looks like TCVN3/VNI bytes read as Latin-1."""
    suspicious = len(_CID.findall(raw))
    viet = letters = 0
    for char in raw:
        code = ord(char)
        if char.isalpha():
            letters += 1
        if 0xA1 <= code <= 0xFF and char not in _VIET_LATIN1:
            suspicious += 1
        elif 0x102 <= code <= 0x1B0 or 0x1EA0 <= code <= 0x1EF9:
            viet += 1
    return suspicious >= 3 and suspicious > viet and suspicious * 50 >= letters


def _rows(lines: list[_Line], height: float) -> tuple[str, str]:
    """Page text and header text (rows in the top quarter) from positioned lines."""
    if not lines:
        return "", ""
    lines = sorted(lines, key=lambda line: (line.top, line.x0))
    rows: list[list[_Line]] = []
    for line in lines:
        centre = (line.top + line.bottom) / 2
        if rows and rows[-1][0].top <= centre <= rows[-1][0].bottom:
            rows[-1].append(line)
        else:
            rows.append([line])
    typical = median(max(line.bottom - line.top, 1.0) for line in lines)
    out: list[str] = []
    header: list[str] = []
    previous_bottom: float | None = None
    for row in rows:
        top = min(line.top for line in row)
        if previous_bottom is not None and top - previous_bottom > 0.8 * typical:
            out.append("")
        previous_bottom = max(line.bottom for line in row)
        text = "   ".join(line.text for line in sorted(row, key=lambda x: x.x0))
        out.append(text)
        if top < height / 4:
            header.append(text)
    return normalise("\n".join(out)), normalise("\n".join(header))


def _pdf_lines(
    container: LTContainer[Any], height: float, sink: list[_Line], images: list[float]
) -> None:
    """Collect the text lines below ``container``, and the top of each image."""
    for item in container:
        if isinstance(item, LTTextLine):
            text = item.get_text().strip()
            if text:
                sink.append(_Line(item.x0, height - item.y1, height - item.y0, text))
        elif isinstance(item, LTImage | LTFigure):
            images.append(height - item.y1)
        if isinstance(item, LTContainer) and not isinstance(item, LTTextLine):
            _pdf_lines(item, height, sink, images)


def _ocr_lines(
    path: Path, index: int, languages: str, deadline: float
) -> tuple[list[_Line], float] | None:
    """OCR page ``index`` of the PDF at ``path``; None when it cannot be done in time."""
    prefix = path.with_name(f"page{index}")
    try:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        page = str(index + 1)
        subprocess.run(
            [*_PDFTOPPM, "-f", page, "-l", page, str(path), str(prefix)],
            check=True,
            capture_output=True,
            timeout=remaining,
        )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        result = subprocess.run(
            ["tesseract", f"{prefix}.png", "stdout", "-l", languages, "tsv"],
            check=True,
            capture_output=True,
            timeout=remaining,
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("OCR of page %s failed: %s", index + 1, exc)
        return None
    return _parse_tsv(result.stdout.decode("utf-8", "replace"))


def _parse_tsv(tsv: str) -> tuple[list[_Line], float]:
    words: dict[tuple[str, str, str], list[tuple[float, float, float, str]]] = {}
    height = 1.0
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12:
            continue
        if cols[0] == "1":
            height = float(cols[9]) or 1.0
        elif cols[0] == "5" and cols[11].strip():
            left, top, tall = float(cols[6]), float(cols[7]), float(cols[9])
            key = (cols[2], cols[3], cols[4])
            words.setdefault(key, []).append((left, top, top + tall, cols[11]))
    lines = [
        _Line(
            min(w[0] for w in group),
            min(w[1] for w in group),
            max(w[2] for w in group),
            " ".join(w[3] for w in sorted(group)),
        )
        for group in words.values()
    ]
    return lines, height


def extract_pdf_text(
    data: bytes,
    *,
    ocr: bool = True,
    ocr_languages: str = "vie+eng",
    timeout: float = 60.0,
) -> PdfText:
    """Text of every page of a PDF; OCR for pages without a usable text layer.

    ``timeout`` bounds all OCR of the document together (rasterising and
    recognition); pages not OCR'd in time are listed in ``unreadable_pages``.  A
    PDF that cannot be parsed gives ``error`` rather than an exception.
    """
    pages: list[str] = []
    headers: list[str] = []
    need_ocr: list[int] = []
    stamp_ocr: list[int] = []  # text pages with an image where stamps are put
    mojibake: list[int] = []
    try:
        for index, layout in enumerate(
            extract_pages(io.BytesIO(data), laparams=LAParams())
        ):
            if index >= MAX_PAGES:
                return PdfText((), "", (), (), (), f"more than {MAX_PAGES} pages")
            sink: list[_Line] = []
            images: list[float] = []
            _pdf_lines(layout, layout.height, sink, images)
            raw = "\n".join(line.text for line in sink)
            text, header = _rows(
                [_Line(x.x0, x.top, x.bottom, normalise(x.text)) for x in sink],
                layout.height,
            )
            if looks_like_mojibake(raw):
                mojibake.append(index)
                need_ocr.append(index)
            elif sum(char.isalpha() for char in text) < MIN_LETTERS and (
                images or len(layout) or raw
            ):
                need_ocr.append(index)
            elif any(top < layout.height * 0.4 for top in images):
                stamp_ocr.append(index)
            pages.append(text)
            headers.append(header)
    except (PSException, ValueError, KeyError, TypeError, AttributeError) as exc:
        return PdfText((), "", (), (), (), f"unreadable PDF: {exc!r}"[:300])
    except (IndexError, AssertionError, RecursionError, OverflowError) as exc:
        return PdfText((), "", (), (), (), f"unreadable PDF: {exc!r}"[:300])
    if not pages:
        return PdfText((), "", (), (), (), "the PDF has no pages")
    unreadable, ocr_done = _run_ocr(
        data,
        need_ocr,
        stamp_ocr,
        pages,
        headers,
        ocr=ocr,
        languages=ocr_languages,
        timeout=timeout,
    )
    unreadable.extend(i for i in need_ocr if i not in mojibake and i not in ocr_done)
    return PdfText(
        pages=tuple(pages),
        header=headers[0],
        unreadable_pages=tuple(sorted(set(unreadable))),
        ocr_pages=tuple(ocr_done),
        mojibake_pages=tuple(mojibake),
    )


_STAMPS = {"MAT": "MẬT", "TOI MAT": "TỐI MẬT", "TUYET MAT": "TUYỆT MẬT"}


def _stamp_lines(lines: list[_Line]) -> list[str]:
    """OCR'd lines that read as a classification stamp, spelt as printed."""
    found: list[str] = []
    for line in lines:
        key = fold(normalise(line.text)).upper().strip(" -:.|[](){}'\"")
        if key in _STAMPS:
            found.append(_STAMPS[key])
    return found


def _run_ocr(
    data: bytes,
    indexes: list[int],
    stamp_indexes: list[int],
    pages: list[str],
    headers: list[str],
    *,
    ocr: bool,
    languages: str,
    timeout: float,
) -> tuple[list[int], list[int]]:
    """OCR the given pages in place; return (unreadable, OCR'd) page indexes.

    Pages of ``indexes`` get their text from OCR.  Pages of ``stamp_indexes`` keep
    their text layer and gain the stamps that OCR reads in their images.
    """
    if not ocr or not (indexes or stamp_indexes):
        return [], []
    deadline = time.monotonic() + timeout
    unreadable: list[int] = []
    done: list[int] = []
    with tempfile.TemporaryDirectory(prefix="mailbridge-ocr-") as tmp:
        path = Path(tmp) / "document.pdf"
        path.write_bytes(data)
        for index in stamp_indexes:
            result = _ocr_lines(path, index, languages, deadline)
            if result is None:
                unreadable.append(index)
                continue
            for stamp in _stamp_lines(result[0]):
                pages[index] += f"\n{stamp}"
                headers[index] += f"\n{stamp}" if index == 0 else ""
        for index in indexes:
            result = _ocr_lines(path, index, languages, deadline)
            if result is None:
                unreadable.append(index)
                continue
            lines, height = result
            raw = "\n".join(line.text for line in lines)
            text, header = _rows(
                [_Line(x.x0, x.top, x.bottom, normalise(x.text)) for x in lines], height
            )
            if looks_like_mojibake(raw) or sum(c.isalpha() for c in text) < MIN_LETTERS:
                unreadable.append(index)
                continue
            pages[index], headers[index] = text, header
            done.append(index)
    return unreadable, done


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_T = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_MAX_XML = 50 * 1024 * 1024


def _xml_text(element: ElementTree.Element, out: list[str]) -> None:
    tag = element.tag
    if tag in (f"{_W}t", f"{_T}p", f"{_T}h", f"{_T}span", f"{_T}a") and element.text:
        out.append(element.text)
    elif tag in (f"{_W}tab", f"{_T}tab"):
        out.append("\t")
    elif tag in (f"{_W}br", f"{_T}line-break"):
        out.append("\n")
    elif tag == f"{_T}s":
        out.append(" " * int(element.get(f"{_T}c", "1") or 1))
    for child in element:
        _xml_text(child, out)
        if child.tail and tag.startswith(_T):
            out.append(child.tail)
    if tag in (f"{_W}p", f"{_T}p", f"{_T}h"):
        out.append("\n")


def extract_office_text(data: bytes, filename: str) -> str | None:
    """Text of a .docx or .odt file (NFC); None for other files or unreadable ones."""
    suffix = Path(filename.lower()).suffix
    members = {".docx": "word/document.xml", ".odt": "content.xml"}
    if suffix not in members:
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [members[suffix]]
            if suffix == ".docx":
                names += sorted(
                    n
                    for n in archive.namelist()
                    if re.match(r"word/(header|footer)", n)
                )
            out: list[str] = []
            for name in names:
                if archive.getinfo(name).file_size > _MAX_XML:
                    return None
                xml = archive.read(name)
                if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
                    return None
                # no DTD (checked above), so no entity expansion: safe to parse
                _xml_text(ElementTree.fromstring(xml), out)  # noqa: S314
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, ValueError) as exc:
        log.warning("unreadable office file %s: %s", filename, exc)
        return None
    return normalise("".join(out))
