"""A processing-order hint read from the Subject at receipt: hỏa tốc first.

Only the headers are parsed, and a wrong hint only changes the order in which the
spool is drained; the document's urgency itself is decided by the pipeline.
"""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesHeaderParser

from mailbridge.codes import URGENCY_PRIORITY, Urgency
from mailbridge.extract.normalise import canonical, fold

__all__ = ["urgency_hint"]

_MARKS = (
    (re.compile(r"\bHOA TOC HEN GIO\b"), Urgency.HOA_TOC_HEN_GIO),
    (re.compile(r"\bHOA TOC\b"), Urgency.HOA_TOC),
    (re.compile(r"\bTHUONG KHAN\b"), Urgency.THUONG_KHAN),
    (re.compile(r"\bKHAN\b"), Urgency.KHAN),
)


def urgency_hint(raw: bytes) -> int:
    """edXML priority (0-4) of the urgency mark in the Subject; 0 when none."""
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        subject = str(headers.get("Subject", "") or "")
    except (ValueError, TypeError, IndexError, LookupError):
        return 0
    folded = fold(canonical(subject))
    for pattern, urgency in _MARKS:
        if pattern.search(folded):
            return URGENCY_PRIORITY[urgency]
    return 0
