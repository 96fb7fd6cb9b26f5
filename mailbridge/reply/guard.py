"""Whether an automatic reply may go at all: loop guards and no backscatter.

The bridge answers a message only when a person at a real agency will read the
answer. It never answers a null envelope sender, a message that is itself
automatic (``Auto-Submitted`` other than ``no``, ``Precedence: bulk/list/junk``),
mailing-list traffic (any ``List-*`` header), delivery or read reports
(``multipart/report``) or a mailer daemon, and never a sender that is neither a
registered agency nor vouched for by a passing DKIM signature (SPEC section 6,
RFC 3834 section 2).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mailbridge.message import ParsedMessage

__all__ = ["BULK_PRECEDENCE", "DAEMON_LOCAL_PARTS", "GuardDecision", "may_reply"]

log = logging.getLogger("mailbridge.reply")

#: ``Precedence`` values that mark bulk or list mail.
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})

#: Local parts of the senders of bounces and other mail-system notices.
DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon"})


@dataclass(frozen=True)
class GuardDecision:
    """May the bridge reply? ``reason`` says why not, in plain words."""

    allowed: bool
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when a reply may be sent."""
        return self.allowed


_ALLOWED = GuardDecision(allowed=True, reason="")


def _local_part(address: str | None) -> str:
    if not address:
        return ""
    address = address.strip().strip("<>").lower()
    return address.rsplit("@", 1)[0] if "@" in address else address


def _automatic(msg: ParsedMessage) -> str | None:
    """Why ``msg`` looks machine-sent, or None."""
    auto_submitted = msg.header("Auto-Submitted")
    if auto_submitted is not None:
        keyword = auto_submitted.split(";", 1)[0].strip().lower()
        if keyword != "no":
            return f"Auto-Submitted: {keyword or '(empty)'}"
    precedence = msg.header("Precedence")
    if precedence is not None and precedence.strip().lower() in BULK_PRECEDENCE:
        return f"Precedence: {precedence.strip().lower()}"
    list_headers = sorted(
        {name for name in msg.msg if name.lower().startswith("list-")}
    )
    if list_headers:
        return f"mailing-list header {list_headers[0]}"
    if msg.msg.get_content_type() == "multipart/report":
        return "a delivery or read report (multipart/report)"
    return None


def _daemon(msg: ParsedMessage, envelope_sender: str) -> str | None:
    """Why the sender looks like a mail system rather than a person, or None."""
    for label, address in (
        ("envelope sender", envelope_sender),
        ("From", msg.from_address),
    ):
        if _local_part(address) in DAEMON_LOCAL_PARTS:
            return f"{label} {address} is a mail-system address"
    return None


def may_reply(
    msg: ParsedMessage,
    *,
    envelope_sender: str | None,
    sender_registered: bool,
    dkim_passed: bool,
) -> GuardDecision:
    """Decide whether the bridge may send an automatic reply to ``msg``.

    ``envelope_sender`` is the SMTP ``MAIL FROM`` (``Return-Path`` for IMAP and
    files); ``sender_registered`` says the From address belongs to a registered
    agency; ``dkim_passed`` that a DKIM signature aligned with the From domain passed.
    """
    decision = _decide(
        msg,
        envelope_sender=envelope_sender,
        sender_registered=sender_registered,
        dkim_passed=dkim_passed,
    )
    if not decision.allowed:
        log.info("%s no reply: %s", msg.message_id, decision.reason)
    return decision


def _decide(
    msg: ParsedMessage,
    *,
    envelope_sender: str | None,
    sender_registered: bool,
    dkim_passed: bool,
) -> GuardDecision:
    sender = (envelope_sender or "").strip()
    if sender in ("", "<>"):
        return GuardDecision(
            allowed=False, reason="null envelope sender (a bounce or notification)"
        )
    automatic = _automatic(msg)
    if automatic is not None:
        return GuardDecision(allowed=False, reason=f"automatic mail: {automatic}")
    daemon = _daemon(msg, sender)
    if daemon is not None:
        return GuardDecision(allowed=False, reason=daemon)
    if not msg.from_address:
        return GuardDecision(allowed=False, reason="no From address to answer")
    if not sender_registered and not dkim_passed:
        return GuardDecision(
            allowed=False,
            reason=(
                f"sender {msg.from_address} is not a registered agency and its DKIM "
                "did not pass (no backscatter)"
            ),
        )
    return _ALLOWED
