"""``mailbridge serve``: SMTP listeners, the spool worker and the outbox on one loop.

SIGTERM (or SIGINT) stops accepting, lets the worker finish the message in hand (what
is not started stays spooled) and exits 0. SIGHUP reloads agencies and rules when
they validate, and keeps the old ones (logging why) when they do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from mailbridge.config.schema import Settings
from mailbridge.context import Bridge, load_live_config
from mailbridge.errors import ConfigError
from mailbridge.ingest.smtp import IngestHandler, make_smtp_factory
from mailbridge.outbound.outbox import OutboxSender, RetryPolicy
from mailbridge.outbound.transport import SmtpTransport, parse_hostport
from mailbridge.register.db import migrate
from mailbridge.worker import Worker

__all__ = ["Service", "outbox_sender"]

log = logging.getLogger("mailbridge.service")

#: seconds the worker and the outbox get to finish after SIGTERM
DRAIN_SECONDS = 10.0


def outbox_sender(bridge: Bridge) -> OutboxSender:
    out = bridge.settings.outbound
    return OutboxSender(
        bridge.engine,
        SmtpTransport(out.smarthost),
        clock=bridge.clock,
        retry=RetryPolicy(
            initial_seconds=out.retry_initial_seconds,
            max_seconds=out.retry_max_seconds,
            give_up_hours=out.retry_give_up_hours,
        ),
        sign=bridge.dkim_signer.sign if bridge.dkim_signer else None,
    )


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    tls = settings.smtp.tls
    if tls is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    return context


@dataclass
class Service:
    bridge: Bridge
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    servers: list[asyncio.Server] = field(default_factory=list)
    on_ready: Callable[[list[str]], None] | None = None

    def reload(self) -> bool:
        """Swap in new agencies and rules if they validate; True when swapped."""
        try:
            live = load_live_config(self.bridge.settings)
        except ConfigError as exc:
            log.error(
                "reload refused, keeping the current agencies and rules:\n%s", exc
            )
            return False
        self.bridge.live.agencies = live.agencies
        self.bridge.live.rules = live.rules
        log.info(
            "reloaded %d agencies and %d rules",
            len(live.agencies),
            len(live.rules.rules),
        )
        return True

    def request_stop(self) -> None:
        if not self.stop.is_set():
            log.info("stopping: no new mail accepted")
            self.stop.set()
            for server in self.servers:
                server.close()

    async def run(self) -> int:
        bridge = self.bridge
        settings = bridge.settings
        await asyncio.to_thread(migrate, bridge.engine)
        recovered = await asyncio.to_thread(bridge.spool.recover)
        worker = Worker(bridge)
        outbox = outbox_sender(bridge)
        worker.on_recorded = lambda _recorded: outbox.wake.set()
        addresses = frozenset(settings.bridge.addresses)
        handler = IngestHandler(
            bridge.spool,
            addresses=addresses,
            domains=frozenset(
                {settings.bridge.domain} | {a.rsplit("@", 1)[1] for a in addresses}
            ),
            hostname=settings.bridge.domain,
            clock=bridge.clock,
            on_spooled=lambda _id: worker.wake.set(),
        )
        factory = make_smtp_factory(
            handler,
            max_bytes=settings.smtp.max_message_bytes,
            hostname=settings.bridge.domain,
            tls_context=_tls_context(settings),
            require_tls=settings.smtp.require_tls,
        )
        loop = asyncio.get_running_loop()
        listening: list[str] = []
        for listen in settings.smtp.listen:
            host, port = parse_hostport(listen)
            server = await loop.create_server(factory, host, port)
            self.servers.append(server)
            for sock in server.sockets:
                name = sock.getsockname()
                listening.append(f"{name[0]}:{name[1]}")
        loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        loop.add_signal_handler(signal.SIGINT, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        log.info(
            "mailbridge listening on %s (SMTP); %d message(s) recovered from the spool",
            ", ".join(listening),
            recovered,
        )
        if self.on_ready is not None:
            self.on_ready(listening)
        tasks = [asyncio.create_task(outbox.run(self.stop), name="outbox")]
        if settings.worker.paused:
            log.warning("worker.paused: mail is accepted and spooled, not processed")
        else:
            tasks.append(asyncio.create_task(worker.run(self.stop), name="worker"))
        await self.stop.wait()
        handler.accepting = False
        done, pending = await asyncio.wait(tasks, timeout=DRAIN_SECONDS)
        for task in pending:
            task.cancel()
        for task in done:
            if task.exception() is not None:
                log.error("task %s failed: %r", task.get_name(), task.exception())
        for server in self.servers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), timeout=5)
        bridge.engine.dispose()
        log.info(
            "mailbridge stopped; %d message(s) left in the spool", len(bridge.spool)
        )
        return 0
