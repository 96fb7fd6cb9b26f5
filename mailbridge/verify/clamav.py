"""Virus scanning through clamd's ``zINSTREAM`` command, over a unix socket or TCP.

The bytes are sent in chunks, each preceded by its length (4 bytes, network
order), and ended by a zero length; clamd answers ``stream: OK`` or
``stream: NAME FOUND``. Anything else (a refused connection, a timeout, clamd's
``INSTREAM size limit exceeded``, an ``ERROR`` answer) raises
:class:`~mailbridge.errors.VerificationUnavailable`: the message waits and is tried
again, it is never accepted unscanned.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from dataclasses import dataclass

from mailbridge.errors import VerificationUnavailable

__all__ = ["ClamdScanner", "ScanResult"]

log = logging.getLogger("mailbridge.verify")

_CHUNK = 256 * 1024
_MAX_REPLY = 64 * 1024


@dataclass(frozen=True)
class ScanResult:
    """clamd's answer for one blob: infected or not, and the signature that hit."""

    infected: bool
    signature: str | None
    detail: str

    @property
    def ok(self) -> bool:
        """True when clamd found nothing."""
        return not self.infected


def _parse_address(address: str) -> tuple[str | None, str | None, int]:
    """``unix:/path`` or ``HOST:PORT`` (``[::1]:3310``) as (path, host, port)."""
    if address.startswith("unix:"):
        path = address[len("unix:") :]
        if not path:
            raise ValueError(f"clamd address {address!r}: empty socket path")
        return path, None, 0
    host, sep, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(
            f"clamd address {address!r}: expected 'unix:/path' or 'HOST:PORT'"
        )
    return None, host, int(port)


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    """clamd's answer, up to its NUL terminator (or whatever came before EOF)."""
    try:
        return await reader.readuntil(b"\0")
    except asyncio.IncompleteReadError as exc:  # closed without the NUL
        return exc.partial
    except (asyncio.LimitOverrunError, OSError):
        return b""


class ClamdScanner:
    """A clamd client; each call opens its own connection (clamd's one-shot mode)."""

    def __init__(self, address: str, *, timeout: float = 30.0) -> None:
        self.address = address
        self.timeout = timeout
        self._path, self._host, self._port = _parse_address(address)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._path is not None:
            return await asyncio.open_unix_connection(self._path, limit=_MAX_REPLY)
        return await asyncio.open_connection(self._host, self._port, limit=_MAX_REPLY)

    async def _command(self, command: bytes, data: bytes | None = None) -> str:
        """Send ``command`` (and ``data`` in INSTREAM chunks); clamd's reply text.

        The reply is read while sending: clamd answers early (and closes) when the
        stream is over its limit, and that answer must not be lost to a broken pipe.
        """
        reader, writer = await self._connect()
        replied = asyncio.ensure_future(_read_reply(reader))
        lost: OSError | None = None
        try:
            try:
                writer.write(b"z" + command + b"\0")
                for start in range(0, len(data or b""), _CHUNK):
                    if replied.done():  # clamd has answered: stop sending
                        break
                    chunk = (data or b"")[start : start + _CHUNK]
                    writer.write(struct.pack(">I", len(chunk)) + chunk)
                    await writer.drain()
                    await asyncio.sleep(0)  # let an early answer be read
                if data is not None and not replied.done():
                    writer.write(struct.pack(">I", 0))
                await writer.drain()
            except OSError as exc:  # clamd may close early, after saying why
                lost = exc
            text = (await replied).rstrip(b"\0\r\n").decode("utf-8", "replace")
            if lost is not None and not text.strip():
                raise VerificationUnavailable(
                    f"clamd at {self.address}: connection lost ({lost})"
                )
            return text.strip()
        finally:
            replied.cancel()
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                log.debug("clamd at %s: connection already closed", self.address)

    async def scan(self, data: bytes) -> ScanResult:
        """Scan ``data``; raise :class:`VerificationUnavailable` if clamd cannot say."""
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self._command(b"INSTREAM", data)
        except TimeoutError as exc:
            raise VerificationUnavailable(
                f"clamd at {self.address}: no answer within {self.timeout:g} s"
            ) from exc
        except OSError as exc:
            raise VerificationUnavailable(
                f"clamd at {self.address}: cannot connect ({exc})"
            ) from exc
        body = reply.removeprefix("stream:").strip()
        if body == "OK":
            return ScanResult(infected=False, signature=None, detail=f"clamd: {reply}")
        if body.endswith(" FOUND"):
            signature = body.removesuffix(" FOUND").strip()
            log.warning("clamd found %s in %d bytes", signature, len(data))
            return ScanResult(
                infected=True, signature=signature, detail=f"clamd: {reply}"
            )
        raise VerificationUnavailable(
            f"clamd at {self.address}: {reply or 'empty answer'}"
        )

    async def ping(self) -> bool:
        """True when clamd answers ``PONG`` within the timeout."""
        try:
            async with asyncio.timeout(self.timeout):
                reply = await self._command(b"PING")
        except (TimeoutError, OSError, VerificationUnavailable) as exc:
            log.info("clamd at %s does not answer: %s", self.address, exc)
            return False
        return reply == "PONG"
