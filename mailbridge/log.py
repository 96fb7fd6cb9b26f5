"""Logging setup: one named logger per stage (``mailbridge.smtp``, ``.worker`` ...)."""

from __future__ import annotations

import logging
import os

__all__ = ["setup_logging"]


def setup_logging(level: str | None = None) -> None:
    """Log to stderr; the level comes from ``MAILBRIDGE_LOG_LEVEL`` (default INFO)."""
    chosen = (level or os.environ.get("MAILBRIDGE_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, chosen, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("mail.log", "aiosmtpd", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pyHanko logs a traceback for every untrusted or expired certificate; the
    # verdict and its detail already say it, once, in the register
    for chatty in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(chatty).setLevel(logging.CRITICAL)
