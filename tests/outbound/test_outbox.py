"""The outbox sender with the real SMTP transport, against a capturing smarthost.

The smarthost is aiosmtpd on 127.0.0.1 with a handler that keeps every envelope; the
clock is a FixedClock moved by hand, so back-off times are exact.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from mailbridge.clock import VN_TZ, FixedClock
from mailbridge.outbound.outbox import OutboxSender, RetryPolicy
from mailbridge.outbound.transport import SmtpTransport, parse_hostport
from mailbridge.register.db import transaction
from mailbridge.register.models import OutboxRow

BRIDGE = "vanthu@bridge.example.vn"
CLERK = "vanthu@so-tc.example.vn"
NOW = datetime(2026, 11, 22, 9, 15, tzinfo=VN_TZ)
RETRY = RetryPolicy(initial_seconds=5, max_seconds=600, give_up_hours=72)


def reply_bytes(n: int) -> bytes:
    """A small reply mail, CRLF line ends, as the composer stores it."""
    return (
        f"From: {BRIDGE}\r\nTo: {CLERK}\r\n"
        f"Message-ID: <reply-{n}@bridge.example.vn>\r\n"
        "Subject: =?utf-8?b?xJDDoyB0aeG6v3Agbmjhuq1u?=\r\n"
        "X-Mailbridge-Status: accepted\r\n\r\n"
        f".Số đến {n}\r\n"
    ).encode()


class Capture:
    """A smarthost's handler: keeps what it is given, or refuses as told."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.data_reply: str | None = None

    async def handle_RCPT(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 OK"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Smarthost:
    """The capturing smarthost on a fixed loopback port, started and stopped at will."""

    def __init__(self) -> None:
        self.port = free_port()
        self.capture = Capture()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.capture, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smarthost() -> Iterator[Smarthost]:
    """A smarthost that is not yet listening; tests start it."""
    host = Smarthost()
    try:
        yield host
    finally:
        host.stop()


def enqueue(engine: Engine, n: int, *, rcpt: str = CLERK) -> None:
    """Put reply number ``n`` in the outbox, due now."""
    with transaction(engine) as session:
        session.add(
            OutboxRow(
                message_id=f"<reply-{n}@bridge.example.vn>",
                kind="reply",
                mail_from=BRIDGE,
                rcpt_to=[rcpt],
                raw=reply_bytes(n),
                created_at=NOW,
                next_attempt_at=NOW,
            )
        )


def rows(engine: Engine) -> list[dict[str, Any]]:
    """The outbox's delivery columns, row by row."""
    with Session(engine) as session:
        found = session.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all()
        return [
            {
                "message_id": r.message_id,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at,
                "sent_at": r.sent_at,
                "claimed_until": r.claimed_until,
                "last_error": r.last_error,
            }
            for r in found
        ]


def sender(
    engine: Engine, host: Smarthost, clock: FixedClock, **kwargs: Any
) -> OutboxSender:
    """An OutboxSender sending through the real SMTP transport to ``host``."""
    transport = SmtpTransport(f"127.0.0.1:{host.port}", timeout=10)
    return OutboxSender(engine, transport, clock=clock, retry=RETRY, **kwargs)


def test_pending_rows_are_sent_once_and_marked_sent(
    engine: Engine, smarthost: Smarthost
) -> None:
    """Due rows reach the smarthost byte for byte, once, and are marked sent."""
    smarthost.start()
    enqueue(engine, 1)
    enqueue(engine, 2)
    outbox = sender(engine, smarthost, FixedClock(NOW))

    first = asyncio.run(outbox.run_once())
    second = asyncio.run(outbox.run_once())

    expected_counts = (2, 0, 0)
    assert expected_counts == (first, second, outbox.pending_count())
    expected_mail = [
        (BRIDGE, [CLERK], reply_bytes(1)),
        (BRIDGE, [CLERK], reply_bytes(2)),
    ]
    assert expected_mail == smarthost.capture.received
    expected_rows = [
        {
            "message_id": f"<reply-{n}@bridge.example.vn>",
            "status": "sent",
            "attempts": 0,
            "next_attempt_at": NOW,
            "sent_at": NOW,
            "claimed_until": None,
            "last_error": None,
        }
        for n in (1, 2)
    ]
    assert expected_rows == rows(engine)


def test_smarthost_down_keeps_rows_pending_until_it_is_back(
    engine: Engine, smarthost: Smarthost
) -> None:
    """Nothing listening: pending with back-off (5 s, then 10 s); later it is sent."""
    enqueue(engine, 1)
    clock = FixedClock(NOW)
    outbox = sender(engine, smarthost, clock)

    sent_down = asyncio.run(outbox.run_once())
    [after_first] = rows(engine)
    clock.advance(timedelta(seconds=5))
    sent_down_again = asyncio.run(outbox.run_once())
    [after_second] = rows(engine)

    expected = (0, 0, "pending", 2, NOW + timedelta(seconds=15), None)
    assert expected == (
        sent_down,
        sent_down_again,
        after_second["status"],
        after_second["attempts"],
        after_second["next_attempt_at"],
        after_second["claimed_until"],
    )
    expected_first = (1, NOW + timedelta(seconds=5))
    assert expected_first == (after_first["attempts"], after_first["next_attempt_at"])
    assert f"smarthost 127.0.0.1:{smarthost.port} unreachable" in (
        after_second["last_error"] or ""
    )

    smarthost.start()
    not_yet = asyncio.run(outbox.run_once())  # the back-off is not over
    clock.advance(timedelta(seconds=10))
    sent_up = asyncio.run(outbox.run_once())

    expected_after = (0, 1, "sent", NOW + timedelta(seconds=15), None)
    [row] = rows(engine)
    assert expected_after == (
        not_yet,
        sent_up,
        row["status"],
        row["sent_at"],
        row["last_error"],
    )
    assert [(BRIDGE, [CLERK], reply_bytes(1))] == smarthost.capture.received


@pytest.mark.parametrize(
    ("rcpt", "data_reply", "error"),
    [
        ("nobody@so-tc.example.vn", None, "550"),
        (CLERK, "554 5.6.0 Content refused", "554 5.6.0 Content refused"),
    ],
    ids=["rcpt-refused", "data-refused"],
)
def test_permanent_refusal_marks_the_row_failed(
    engine: Engine,
    smarthost: Smarthost,
    rcpt: str,
    data_reply: str | None,
    error: str,
) -> None:
    """A 5xx from the smarthost is final: the row is failed, never retried."""
    smarthost.capture.data_reply = data_reply
    smarthost.start()
    enqueue(engine, 1, rcpt=rcpt)
    clock = FixedClock(NOW)
    outbox = sender(engine, smarthost, clock)

    sent = asyncio.run(outbox.run_once())
    clock.advance(timedelta(hours=1))
    later = asyncio.run(outbox.run_once())

    [row] = rows(engine)
    expected = (0, 0, "failed", 1, True)
    assert expected == (
        sent,
        later,
        row["status"],
        row["attempts"],
        error in (row["last_error"] or ""),
    )
    assert [] == smarthost.capture.received


def test_temporary_refusal_is_retried(engine: Engine, smarthost: Smarthost) -> None:
    """A 4xx at DATA leaves the row pending; once the smarthost accepts, it is sent."""
    smarthost.capture.data_reply = "451 4.3.0 Try again later"
    smarthost.start()
    enqueue(engine, 1)
    clock = FixedClock(NOW)
    outbox = sender(engine, smarthost, clock)

    refused = asyncio.run(outbox.run_once())
    [row] = rows(engine)
    smarthost.capture.data_reply = None
    clock.advance(timedelta(seconds=5))
    accepted = asyncio.run(outbox.run_once())

    expected = (0, "pending", 1, "451 4.3.0 Try again later", 1)
    assert expected == (
        refused,
        row["status"],
        row["attempts"],
        row["last_error"],
        accepted,
    )
    assert [(BRIDGE, [CLERK], reply_bytes(1))] == smarthost.capture.received


def test_gives_up_after_the_retry_window(engine: Engine, smarthost: Smarthost) -> None:
    """A mail still undeliverable give_up_hours after it was queued becomes failed."""
    enqueue(engine, 1)
    clock = FixedClock(NOW + timedelta(hours=72))
    outbox = sender(engine, smarthost, clock)

    sent = asyncio.run(outbox.run_once())

    [row] = rows(engine)
    expected = (0, "failed", 1)
    assert expected == (sent, row["status"], row["attempts"])


def test_sign_hook_is_applied_to_the_bytes_sent(
    engine: Engine, smarthost: Smarthost
) -> None:
    """The smarthost receives what ``sign`` returns (the DKIM signature on top)."""
    smarthost.start()
    enqueue(engine, 1)
    header = b"DKIM-Signature: v=1; a=rsa-sha256; d=bridge.example.vn; s=mb; b=AAAA\r\n"
    outbox = sender(engine, smarthost, FixedClock(NOW), sign=lambda raw: header + raw)

    sent = asyncio.run(outbox.run_once())

    expected = (1, [(BRIDGE, [CLERK], header + reply_bytes(1))])
    assert expected == (sent, smarthost.capture.received)


def test_two_senders_at_once_send_each_mail_once(
    engine: Engine, smarthost: Smarthost
) -> None:
    """Two nodes draining one outbox together: every mail reaches the smarthost once."""
    smarthost.start()
    for n in range(12):
        enqueue(engine, n)
    clock = FixedClock(NOW)
    node_a = sender(engine, smarthost, clock, batch=5)
    node_b = sender(engine, smarthost, clock, batch=5)

    async def drain() -> list[int]:
        sent: list[int] = []
        for _ in range(5):
            sent += await asyncio.gather(node_a.run_once(), node_b.run_once())
        return sent

    sent = asyncio.run(drain())

    delivered = sorted(raw for _f, _t, raw in smarthost.capture.received)
    expected = (12, sorted(reply_bytes(n) for n in range(12)), 0)
    assert expected == (sum(sent), delivered, node_a.pending_count())


def test_run_sends_until_stopped(engine: Engine, smarthost: Smarthost) -> None:
    """The long-running loop sends what is queued, wakes on demand and stops on request."""
    smarthost.start()
    enqueue(engine, 1)
    outbox = sender(engine, smarthost, FixedClock(NOW))

    async def serve() -> int:
        stop = asyncio.Event()
        task = asyncio.create_task(outbox.run(stop, idle_seconds=0.05))
        for _ in range(100):  # at most 5 s
            if len(smarthost.capture.received) == 1:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(enqueue, engine, 2)
        outbox.wake.set()
        for _ in range(100):
            if len(smarthost.capture.received) == 2:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, timeout=5)
        return outbox.pending_count()

    pending = asyncio.run(serve())

    expected = (0, [reply_bytes(1), reply_bytes(2)])
    assert expected == (pending, [raw for _f, _t, raw in smarthost.capture.received])


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("smtp.example.vn", ("smtp.example.vn", 25)),
        ("smtp.example.vn:2525", ("smtp.example.vn", 2525)),
        (" 127.0.0.1:587 ", ("127.0.0.1", 587)),
        ("[2001:db8::25]:2525", ("2001:db8::25", 2525)),
        ("[2001:db8::25]", ("2001:db8::25", 25)),
    ],
)
def test_smarthost_setting_is_read_as_host_and_port(
    setting: str, expected: tuple[str, int]
) -> None:
    """outbound.smarthost accepts host, host:port and [IPv6]:port."""
    assert expected == parse_hostport(setting)
