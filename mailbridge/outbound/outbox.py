"""The outbox: every mail the bridge sends, from the register to the smarthost.

Rows are written in the same transaction as the decision they answer
(:mod:`mailbridge.register.repository`); this sender drains them. A row is leased
before sending (``claimed_until``), so several nodes sharing one database do not send
the same mail twice at once; a crash after the smarthost took a mail but before it was
marked sent resends it with the same Message-ID. Temporary failures back off
exponentially; after ``give_up`` the row is marked ``failed`` and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_
from sqlmodel import col, select

from mailbridge.aio import wait_any
from mailbridge.clock import Clock
from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError
from mailbridge.outbound.transport import Transport
from mailbridge.register.db import is_sqlite, transaction
from mailbridge.register.models import OutboxRow

__all__ = ["OutboxSender", "RetryPolicy"]

log = logging.getLogger("mailbridge.outbound")

LEASE = timedelta(seconds=120)


@dataclass(frozen=True)
class RetryPolicy:
    initial_seconds: float = 5.0
    max_seconds: float = 600.0
    give_up_hours: float = 72.0

    def delay(self, attempts: int) -> timedelta:
        seconds = min(
            self.initial_seconds * (2 ** max(attempts - 1, 0)), self.max_seconds
        )
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    raw: bytes
    attempts: int
    created_at: datetime


class OutboxSender:
    """Sends due outbox rows through a transport, signing each on the way out."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        *,
        clock: Clock,
        retry: RetryPolicy,
        sign: Callable[[bytes], bytes] | None = None,
        batch: int = 20,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.clock = clock
        self.retry = retry
        self.sign = sign
        self.batch = batch
        self.wake = asyncio.Event()

    def _claim(self) -> list[_Claimed]:
        now = self.clock.now()
        with transaction(self.engine) as session:
            query = (
                select(OutboxRow)
                .where(
                    OutboxRow.status == "pending",
                    col(OutboxRow.next_attempt_at) <= now,
                    or_(
                        col(OutboxRow.claimed_until).is_(None),
                        col(OutboxRow.claimed_until) < now,
                    ),
                )
                .order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.id))
                .limit(self.batch)
            )
            if not is_sqlite(self.engine):
                query = query.with_for_update(skip_locked=True)
            rows = session.exec(query).all()
            claimed = []
            for row in rows:
                assert row.id is not None
                row.claimed_until = now + LEASE
                session.add(row)
                claimed.append(
                    _Claimed(
                        row.id,
                        row.message_id,
                        row.mail_from,
                        tuple(row.rcpt_to),
                        row.raw,
                        row.attempts,
                        row.created_at,
                    )
                )
            return claimed

    def _finish(self, item: _Claimed, *, error: str | None, permanent: bool) -> None:
        now = self.clock.now()
        with transaction(self.engine) as session:
            row = session.get(OutboxRow, item.id)
            if row is None:
                return
            row.claimed_until = None
            if error is None:
                row.status = "sent"
                row.sent_at = now
                row.last_error = None
            else:
                row.attempts += 1
                row.last_error = error
                give_up = item.created_at + timedelta(hours=self.retry.give_up_hours)
                if permanent or now >= give_up:
                    row.status = "failed"
                else:
                    row.next_attempt_at = now + self.retry.delay(row.attempts)
            session.add(row)

    async def run_once(self) -> int:
        """Send what is due now; return how many were sent."""
        claimed = await asyncio.to_thread(self._claim)
        try:
            return await self._send_all(claimed)
        except asyncio.CancelledError:
            # stopping: give back the leases of what was not finished, so a restart
            # sends it at once (the mail in flight may go twice, same Message-ID)
            self._release([item.id for item in claimed])
            raise

    def _release(self, ids: list[int]) -> None:
        with transaction(self.engine) as session:
            for row_id in ids:
                row = session.get(OutboxRow, row_id)
                if row is not None and row.status == "pending":
                    row.claimed_until = None
                    session.add(row)

    async def _send_all(self, claimed: list[_Claimed]) -> int:
        sent = 0
        for item in claimed:
            raw = self.sign(item.raw) if self.sign else item.raw
            try:
                await self.transport.send(item.mail_from, item.rcpt_to, raw)
            except PermanentDeliveryError as exc:
                log.error(
                    "message_id=%s refused by the smarthost: %s", item.message_id, exc
                )
                await asyncio.to_thread(
                    self._finish, item, error=str(exc), permanent=True
                )
                continue
            except TemporaryDeliveryError as exc:
                log.warning("message_id=%s not sent yet: %s", item.message_id, exc)
                await asyncio.to_thread(
                    self._finish, item, error=str(exc), permanent=False
                )
                continue
            await asyncio.to_thread(self._finish, item, error=None, permanent=False)
            log.info(
                "message_id=%s sent to %s", item.message_id, ",".join(item.rcpt_to)
            )
            sent += 1
        return sent

    def pending_count(self) -> int:
        with transaction(self.engine) as session:
            return len(
                session.exec(
                    select(OutboxRow.id).where(OutboxRow.status == "pending")
                ).all()
            )

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Send until ``stop`` is set; wake early when ``self.wake`` is set."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # the sender must outlive a database hiccup
                log.exception("outbox pass failed; trying again shortly")
            self.wake.clear()
            await wait_any(stop, self.wake, seconds=idle_seconds)
