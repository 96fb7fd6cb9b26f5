"""Handing mail to the smarthost: a Transport protocol and its aiosmtplib implementation."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import aiosmtplib

from mailbridge.errors import PermanentDeliveryError, TemporaryDeliveryError

__all__ = ["SmtpTransport", "Transport", "parse_hostport"]

log = logging.getLogger("mailbridge.outbound")


class Transport(Protocol):
    """Something that takes a signed mail for delivery."""

    async def send(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes) -> None:
        """Deliver or raise Temporary/PermanentDeliveryError."""
        ...


def parse_hostport(value: str, default_port: int = 25) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) to a pair."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
        return host, int(port) if port else default_port
    host, sep, port = value.rpartition(":")
    if not sep:
        return value, default_port
    return host, int(port)


class SmtpTransport:
    """SMTP to the configured smarthost with aiosmtplib."""

    def __init__(self, smarthost: str, *, timeout: float = 30.0) -> None:
        self.host, self.port = parse_hostport(smarthost)
        self.timeout = timeout

    async def send(self, mail_from: str, rcpt_to: Sequence[str], raw: bytes) -> None:
        try:
            errors, response = await aiosmtplib.send(
                raw,
                sender=mail_from,
                recipients=list(rcpt_to),
                hostname=self.host,
                port=self.port,
                timeout=self.timeout,
                start_tls=False,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [e.code for e in exc.recipients]
            if all(500 <= c < 600 for c in codes):
                raise PermanentDeliveryError(str(exc)) from exc
            raise TemporaryDeliveryError(str(exc)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise PermanentDeliveryError(f"{exc.code} {exc.message}") from exc
            raise TemporaryDeliveryError(f"{exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise TemporaryDeliveryError(
                f"smarthost {self.host}:{self.port} unreachable: {exc}"
            ) from exc
        if errors:
            refused = ", ".join(f"{r}: {e.code} {e.message}" for r, e in errors.items())
            log.warning("some recipients refused: %s", refused)
        log.debug("smarthost said %s", response)
