"""Damaged copies of sample documents and mails, for the authenticity tests.

- :func:`change_signed_byte`: one byte changed inside the first signature's signed
  range of a PDF (the signature no longer matches: ``SIGNATURE_INVALID``);
- :func:`append_unsigned_update`: an incremental update after signing that rewrites
  the first page and is not a signature (``DOCUMENT_MODIFIED``);
- :func:`change_body`: a mail whose body was altered after DKIM signing
  (``DKIM_FAIL``).

Each raises :class:`ValueError` when the input has nothing it can change, so a test
never passes on an undamaged copy.
"""

from __future__ import annotations

import re
from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

__all__ = [
    "FORGED_PAGE_TEXT",
    "append_unsigned_update",
    "change_body",
    "change_signed_byte",
]

#: The content stream an unsigned update puts on the first page.
FORGED_PAGE_TEXT = b"BT /F1 24 Tf 72 400 Td (Sua doi sau khi ky) Tj ET"

_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]")


def _first_signed_end(pdf: bytes) -> int:
    """End (exclusive) of the first part of the first signature's byte range."""
    found = _BYTE_RANGE.search(pdf)
    if found is None:
        raise ValueError("the PDF has no signature (no /ByteRange)")
    start, length = int(found.group(1)), int(found.group(2))
    if start != 0 or length <= 0:
        raise ValueError("the first /ByteRange does not start at the file's start")
    return length


def change_signed_byte(pdf: bytes) -> bytes:
    """``pdf`` with one letter of a comment line swapped in case, inside the signed range.

    A comment is chosen so that the file still parses (same length, same offsets):
    only the signature's hash stops matching.
    """
    end = _first_signed_end(pdf)
    offset = 0
    for line in pdf[:end].split(b"\n"):
        is_comment = line.startswith(b"%") and not line.startswith((b"%PDF-", b"%%"))
        if is_comment:
            for index, value in enumerate(line):
                if 0x41 <= value <= 0x5A or 0x61 <= value <= 0x7A:
                    changed = bytearray(pdf)
                    changed[offset + index] = value ^ 0x20
                    return bytes(changed)
        offset += len(line) + 1
    raise ValueError("no comment letter found inside the signed range")


def append_unsigned_update(pdf: bytes) -> bytes:
    """``pdf`` plus an incremental update replacing the first page's content."""
    _first_signed_end(pdf)
    writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    forged = generic.StreamObject(stream_data=FORGED_PAGE_TEXT)
    page["/Contents"] = writer.add_object(forged)
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]  # unannotated upstream
    return out.getvalue()


def change_body(raw: bytes, old: bytes, new: bytes) -> bytes:
    """``raw`` with the first ``old`` in its body (not its header) replaced by ``new``."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    if not sep or old not in body:
        raise ValueError(f"{old!r} is not in the message body")
    return head + sep + body.replace(old, new, 1)
