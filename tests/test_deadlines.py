"""The late flag and default deadlines, in Vietnam time."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailbridge.clock import VN_TZ
from mailbridge.deadlines import default_deadline, is_late, next_working_morning


def vn(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN_TZ)


def test_next_working_morning_skips_the_weekend() -> None:
    """Signed on Friday: the next working morning ends Monday 12:00."""
    assert vn(2026, 11, 30, 12, 0) == next_working_morning(vn(2026, 11, 27).date())
    assert vn(2026, 11, 25, 12, 0) == next_working_morning(vn(2026, 11, 24).date())


def test_sent_the_next_morning_is_not_late_but_the_afternoon_is() -> None:
    """Signed Tuesday 16:00 Vietnam time: Wednesday 11:59 is fine, 12:01 is late."""
    signed = vn(2026, 11, 24, 16, 0)
    assert not is_late(signed, vn(2026, 11, 25, 11, 59))
    assert is_late(signed, vn(2026, 11, 25, 12, 1))
    assert not is_late(None, vn(2027, 1, 1))


def test_signing_day_is_taken_in_vietnam_time() -> None:
    """23:30 UTC on Monday is Tuesday in Vietnam: the deadline is Wednesday noon."""
    from datetime import UTC

    signed = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert not is_late(signed, vn(2026, 11, 25, 11, 0))


def test_default_deadlines_by_urgency() -> None:
    """hỏa tốc 2 h, thượng khẩn 4 h, khẩn 8 h, ordinary mail none."""
    received = vn(2026, 12, 1, 9, 0)
    assert received + timedelta(hours=2) == default_deadline("hoa_toc", received)
    assert received + timedelta(hours=4) == default_deadline("thuong_khan", received)
    assert received + timedelta(hours=8) == default_deadline("khan", received)
    assert default_deadline("thuong", received) is None
    assert default_deadline("nonsense", received) is None
