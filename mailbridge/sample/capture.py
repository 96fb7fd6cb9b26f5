"""A capture smarthost: an aiosmtpd server that keeps what the bridge sends.

Used by ``mailbridge demo`` and the tests as the bridge's ``outbound.smarthost``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

__all__ = ["CaptureSmarthost", "CapturedMail"]


@dataclass(frozen=True)
class CapturedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        msg = BytesParser(policy=policy.default).parsebytes(self.raw)
        assert isinstance(msg, EmailMessage)
        return msg


class _Handler:
    def __init__(self) -> None:
        self.mails: list[CapturedMail] = []
        self.lock = threading.Condition()

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd's hook name
        raw = envelope.original_content or b""
        with self.lock:
            self.mails.append(
                CapturedMail(
                    envelope.mail_from or "", tuple(envelope.rcpt_tos), bytes(raw)
                )
            )
            self.lock.notify_all()
        return "250 2.0.0 captured"


class CaptureSmarthost:
    """Start with :meth:`start`; read :attr:`mails`; wait with :meth:`wait_for`."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = port
        self._handler = _Handler()
        self._controller: Controller | None = None

    @property
    def mails(self) -> list[CapturedMail]:
        with self._handler.lock:
            return list(self._handler.mails)

    def start(self) -> CaptureSmarthost:
        self._controller = Controller(
            self._handler, hostname=self.host, port=self.port, decode_data=False
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 60.0) -> list[CapturedMail]:
        """Wait until ``count`` mails arrived (or ``timeout`` s passed); return them all."""
        deadline = time.monotonic() + timeout
        with self._handler.lock:
            while len(self._handler.mails) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._handler.lock.wait(remaining)
            return list(self._handler.mails)

    def __enter__(self) -> CaptureSmarthost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
