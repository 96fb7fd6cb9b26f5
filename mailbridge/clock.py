"""Time in Vietnam: one injectable clock and the ISO 8601 formatting used everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = ["VN_TZ", "Clock", "FixedClock", "SystemClock", "isoformat", "to_local"]

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Clock(Protocol):
    """Source of "now"; tests pin it with :class:`FixedClock`."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in the bridge's zone."""
        ...


class SystemClock:
    """The machine's clock, in the given zone (Vietnam time by default)."""

    def __init__(self, tz: ZoneInfo = VN_TZ) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class FixedClock:
    """A clock that stands still until moved; for tests."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at = self.at + delta


def to_local(value: datetime, tz: ZoneInfo = VN_TZ) -> datetime:
    """``value`` in ``tz``; a naive value is taken as UTC (how databases return it)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(tz)


def isoformat(value: datetime | None, tz: ZoneInfo = VN_TZ) -> str | None:
    """ISO 8601 with the Vietnam offset and whole seconds: ``2026-11-22T09:15:00+07:00``."""
    if value is None:
        return None
    return to_local(value, tz).replace(microsecond=0).isoformat()
