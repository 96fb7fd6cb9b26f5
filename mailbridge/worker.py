"""Draining the spool: claim, judge, register, done — and never lose a message.

A temporary failure (DNS, virus scanner, database unreachable) puts the message back
to wait; an exception nobody expected quarantines it in ``spool/bad`` with its error,
and the worker goes on with the next one (STYLE rule 5).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from mailbridge.aio import wait_any
from mailbridge.codes import Reason
from mailbridge.context import Bridge
from mailbridge.errors import VerificationUnavailable
from mailbridge.pipeline import judge
from mailbridge.register.repository import Recorded
from mailbridge.registration import record_judgement
from mailbridge.spool import SpoolItem

__all__ = ["Processed", "Worker"]

log = logging.getLogger("mailbridge.worker")


@dataclass(frozen=True)
class Processed:
    spool_id: str
    outcome: str  # recorded | delayed | quarantined
    recorded: Recorded | None = None
    error: str | None = None


class Worker:
    """Processes spooled messages one at a time on the service's loop."""

    def __init__(
        self, bridge: Bridge, *, on_recorded: Callable[[Recorded], None] | None = None
    ) -> None:
        self.bridge = bridge
        self.on_recorded = on_recorded
        self.wake = asyncio.Event()

    async def process(self, item: SpoolItem) -> Processed:
        spool = self.bridge.spool
        cfg = self.bridge.settings.worker
        try:
            raw = item.read()
            judged = await judge(self.bridge, raw, item.envelope)
            recorded = await asyncio.to_thread(
                record_judgement,
                self.bridge,
                judged.facts,
                judged.verdict,
                item.envelope,
                item.spool_id,
            )
        except (VerificationUnavailable, OperationalError) as exc:
            error = f"temporary failure: {exc}"
            if self._too_old(item, cfg.retry_give_up_hours):
                spool.quarantine(
                    item, f"gave up after {cfg.retry_give_up_hours} h: {error}"
                )
                return Processed(item.spool_id, "quarantined", error=error)
            log.warning(
                "spool_id=%s delayed %.0f s: %s", item.spool_id, cfg.retry_seconds, exc
            )
            spool.delay(item, seconds=cfg.retry_seconds, error=error)
            return Processed(item.spool_id, "delayed", error=error)
        except Exception as exc:  # the worker outlives any message
            log.exception(
                "spool_id=%s crashed the pipeline; quarantined", item.spool_id
            )
            spool.quarantine(item, f"{type(exc).__name__}: {exc}")
            return Processed(item.spool_id, "quarantined", error=repr(exc))
        classified = judged.verdict.reason is Reason.CLASSIFIED
        spool.done(item, scrub=classified)
        log.info(
            "spool_id=%s message_id=%s verdict=%s reason=%s document=%s",
            item.spool_id,
            recorded.message.message_id,
            recorded.message.verdict,
            recorded.message.reason,
            recorded.message.document_id,
        )
        if self.on_recorded is not None:
            self.on_recorded(recorded)
        return Processed(item.spool_id, "recorded", recorded=recorded)

    @staticmethod
    def _too_old(item: SpoolItem, hours: float) -> bool:
        try:
            received = datetime.fromisoformat(item.envelope.received_at)
        except ValueError:
            return False
        return datetime.now(received.tzinfo) - received > timedelta(hours=hours)

    async def process_next(self) -> Processed | None:
        item = await asyncio.to_thread(self.bridge.spool.claim)
        if item is None:
            return None
        return await self.process(item)

    async def drain(self) -> list[Processed]:
        """Process until nothing is ready now (delayed messages stay waiting)."""
        done: list[Processed] = []
        while (processed := await self.process_next()) is not None:
            done.append(processed)
        return done

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Process until ``stop`` is set; the message in hand is always finished."""
        while not stop.is_set():
            processed = await self.process_next()
            if processed is not None:
                continue
            self.wake.clear()
            timeout = idle_seconds
            wakeup = self.bridge.spool.next_wakeup()
            if wakeup is not None:
                timeout = max(0.05, min(idle_seconds, wakeup - time.time()))
            await wait_any(stop, self.wake, seconds=timeout)
