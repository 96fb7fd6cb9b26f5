"""Small asyncio helpers shared by the service's long-running tasks."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["wait_any"]


async def wait_any(*events: asyncio.Event, seconds: float) -> None:
    """Return when any of ``events`` is set, or after ``seconds``."""
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED),
                timeout=seconds,
            )
    finally:
        for waiter in waiters:
            waiter.cancel()
