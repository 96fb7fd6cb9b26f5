"""Working-time arithmetic: the "sent late" flag and default deadlines by urgency.

DOMAIN.md section 1: a document must be sent on the day it is signed, at the latest
the next working morning. mailbridge reads "morning" as before 12:00 Vietnam time on
the next working day (Monday to Friday; public holidays are not known to it), and
flags a document received after that as ``late``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from mailbridge.clock import VN_TZ
from mailbridge.codes import Urgency

__all__ = [
    "DEFAULT_DEADLINE_HOURS",
    "default_deadline",
    "is_late",
    "next_working_morning",
]

#: handling deadlines when neither a rule nor the document sets one (mailbridge's
#: choice, documented in the README; the shipped rules/10-khan-hoa-toc.yaml says the
#: same): urgent documents are handled at once
DEFAULT_DEADLINE_HOURS: dict[Urgency, float] = {
    Urgency.HOA_TOC_HEN_GIO: 2.0,
    Urgency.HOA_TOC: 2.0,
    Urgency.THUONG_KHAN: 4.0,
    Urgency.KHAN: 8.0,
}

MORNING_ENDS = time(12, 0)


def next_working_morning(day: date) -> datetime:
    """End of the morning of the first working day after ``day``."""
    following = day + timedelta(days=1)
    while following.weekday() >= 5:  # Saturday, Sunday
        following += timedelta(days=1)
    return datetime.combine(following, MORNING_ENDS, tzinfo=VN_TZ)


def is_late(signed_at: datetime | None, received_at: datetime) -> bool:
    """Received after the next working morning following the signing day."""
    if signed_at is None:
        return False
    signed_day = signed_at.astimezone(VN_TZ).date()
    return received_at.astimezone(VN_TZ) > next_working_morning(signed_day)


def default_deadline(urgency: str | None, received_at: datetime) -> datetime | None:
    """``received_at`` plus the default hours of ``urgency``; None for ordinary mail."""
    try:
        hours = DEFAULT_DEADLINE_HOURS.get(Urgency(urgency or "thuong"))
    except ValueError:
        return None
    return None if hours is None else received_at + timedelta(hours=hours)
