"""The SMTP front door (aiosmtpd): check recipients and size, spool, then say 250.

It decides nothing about content: content problems are answered by a reply mail
that explains them in Vietnamese (SPEC section 5). The only SMTP-level refusals are
an address that is not ours (``550 5.1.1``), another domain (``550 5.7.1``: never an
open relay), a message over the limit (``552 5.3.4``), mail before STARTTLS when it
is required (``530 5.7.0``) and a spool that cannot store (``451 4.3.0``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable
from email.utils import format_datetime
from typing import Any

from aiosmtpd.smtp import SMTP, Session
from aiosmtpd.smtp import Envelope as SmtpEnvelope

from mailbridge.clock import Clock, isoformat
from mailbridge.codes import SmtpReply
from mailbridge.errors import SpoolError
from mailbridge.ingest.priority import urgency_hint
from mailbridge.spool import Envelope, Spool, new_spool_id

__all__ = ["BridgeSMTP", "IngestHandler"]

log = logging.getLogger("mailbridge.smtp")


class BridgeSMTP(SMTP):
    """aiosmtpd's SMTP with enhanced status codes on the replies it writes itself."""

    def __init__(self, handler: Any, *, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(handler, data_size_limit=max_bytes, **kwargs)
        too_large = SmtpReply.TOO_LARGE.format(limit=max_bytes)
        self._rewrite = {
            "552 Error: Too much mail data": too_large,
            "552 Error: message size exceeds fixed maximum message size": too_large,
            "530 Must issue a STARTTLS command first": SmtpReply.TLS_REQUIRED.value,
        }

    async def push(self, status: Any) -> None:
        if isinstance(status, str):
            status = self._rewrite.get(status, status)
        await super().push(status)


class IngestHandler:
    """aiosmtpd handler hooks: ``RCPT`` checks and ``DATA`` into the spool."""

    def __init__(
        self,
        spool: Spool,
        *,
        addresses: frozenset[str],
        domains: frozenset[str],
        hostname: str,
        clock: Clock,
        on_spooled: Callable[[str], None] | None = None,
    ) -> None:
        self.spool = spool
        self.addresses = addresses
        self.domains = domains
        self.hostname = hostname
        self.clock = clock
        self.on_spooled = on_spooled
        self.accepting = True

    async def handle_MAIL(  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if not self.accepting:
            return SmtpReply.SHUTTING_DOWN.value
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # aiosmtpd's hook name
        self,
        server: SMTP,
        session: Session,
        envelope: SmtpEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        normalised = address.strip().lower()
        if normalised in self.addresses:
            envelope.rcpt_tos.append(normalised)
            return SmtpReply.RCPT_OK.value
        domain = normalised.rpartition("@")[2]
        if domain in self.domains:
            log.info(
                "refused unknown local recipient %s from %s", address, session.peer
            )
            return SmtpReply.UNKNOWN_USER.value
        log.info("refused relay to %s from %s", address, session.peer)
        return SmtpReply.RELAY_DENIED.value

    async def handle_DATA(  # aiosmtpd's hook name
        self, server: SMTP, session: Session, envelope: SmtpEnvelope
    ) -> str:
        raw: bytes = envelope.original_content or b""  # decode_data is off: bytes
        spool_id = new_spool_id()
        now = self.clock.now()
        peer = session.peer
        peer_text = f"{peer[0]}" if isinstance(peer, tuple) else str(peer)
        received = (
            f"Received: from {session.host_name or 'unknown'} ([{peer_text}])\r\n"
            f"\tby {self.hostname} (mailbridge) with ESMTP id {spool_id};\r\n"
            f"\t{format_datetime(now)}\r\n"
        ).encode("ascii", "replace")
        mail_from = envelope.mail_from or None
        record = Envelope(
            mail_from=None if mail_from in (None, "<>", "") else mail_from,
            rcpt_tos=tuple(envelope.rcpt_tos),
            received_at=isoformat(now) or "",
            source="smtp",
            peer=peer_text,
            helo=session.host_name or None,
            priority=urgency_hint(raw),
        )
        try:
            await asyncio.to_thread(self.spool.put, received + raw, record, spool_id)
        except SpoolError:
            log.exception("spool_id=%s could not be stored", spool_id)
            return SmtpReply.CANNOT_STORE.value
        if self.on_spooled is not None:
            try:
                self.on_spooled(spool_id)
            except Exception:  # the message is stored: the 250 stands whatever happens
                log.exception(
                    "spool_id=%s stored, but waking the worker failed", spool_id
                )
        return SmtpReply.OK.format(spool_id=spool_id)


def make_smtp_factory(
    handler: IngestHandler,
    *,
    max_bytes: int,
    hostname: str,
    tls_context: ssl.SSLContext | None,
    require_tls: bool,
) -> Callable[[], BridgeSMTP]:
    """A protocol factory for ``loop.create_server`` on the service's own loop."""

    def factory() -> BridgeSMTP:
        return BridgeSMTP(
            handler,
            max_bytes=max_bytes,
            hostname=hostname,
            ident="mailbridge ESMTP",
            enable_SMTPUTF8=True,
            decode_data=False,
            tls_context=tls_context,
            require_starttls=require_tls and tls_context is not None,
        )

    return factory
