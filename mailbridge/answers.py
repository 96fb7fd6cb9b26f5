"""Turning decisions into outbox mails: verdict replies, status notices, alerts.

Everything the bridge says to an agency passes through here, so every answer has the
SPEC section 6 headers, a Message-ID fixed at decision time, and goes to the outbox
(never straight to SMTP).

When ``outbound.pgp_home`` and ``outbound.pgp_key`` are set, every answer is
PGP/MIME-signed (RFC 3156) with that key before it is queued; the DKIM signature is
added later, at send time, on top. A signature gpg cannot make now raises
:class:`~mailbridge.errors.VerificationUnavailable` inside the register transaction,
so nothing is recorded: the worker tries the message again later and a status
change fails with that error. An answer is never sent unsigned instead.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from typing import Any

from mailbridge.codes import Reason, Status
from mailbridge.context import Bridge
from mailbridge.errors import VerificationUnavailable
from mailbridge.register.models import DocumentRow, StatusEvent
from mailbridge.register.repository import MailToSend
from mailbridge.reply.compose import (
    AlertFacts,
    ReplyFacts,
    compose_reply,
    compose_security_alert,
    make_message_id,
)
from mailbridge.verify.pgp import sign_pgp_mime

__all__ = ["classified_alert", "pgp_signed_bytes", "status_notice", "verdict_reply"]

log = logging.getLogger("mailbridge.outbound")


def pgp_signed_bytes(bridge: Bridge, msg: EmailMessage) -> bytes | None:
    """``msg`` PGP/MIME-signed with the bridge's key, or None when none is configured.

    Serialised with CRLF line ends, exactly as it was signed.
    """
    out = bridge.settings.outbound
    if out.pgp_home is None or not out.pgp_key:
        return None
    try:
        signed = sign_pgp_mime(
            msg,
            gnupg_home=out.pgp_home,
            key=out.pgp_key,
            passphrase=out.pgp_passphrase,
        )
    except (OSError, ValueError) as exc:
        log.error(
            "cannot PGP-sign %s with key %s: %s", msg["Message-ID"], out.pgp_key, exc
        )
        raise VerificationUnavailable(
            f"cannot PGP-sign the answer with key {out.pgp_key}: {exc}"
        ) from exc
    return signed.as_bytes(policy=policy.SMTP)


def _mail(
    bridge: Bridge,
    msg: EmailMessage,
    *,
    kind: str,
    to: str,
    message_id: str,
    status: str | None,
) -> MailToSend:
    signed = pgp_signed_bytes(bridge, msg)
    return MailToSend(
        message_id=message_id,
        kind=kind,
        mail_from=bridge.identity.from_address,
        rcpt_to=(to,),
        raw=bytes(msg) if signed is None else signed,
        status_code=status,
    )


def _reply_mail(bridge: Bridge, facts: ReplyFacts, *, kind: str) -> MailToSend:
    """Compose ``facts`` with a Message-ID fixed now and wrap it for the outbox."""
    message_id = make_message_id(bridge.identity.domain)
    msg = compose_reply(
        facts,
        identity=bridge.identity,
        renderer=bridge.renderer,
        message_id=message_id,
        now=bridge.clock.now(),
    )
    return _mail(
        bridge,
        msg,
        kind=kind,
        to=facts.to,
        message_id=message_id,
        status=facts.status.value,
    )


def verdict_reply(
    bridge: Bridge,
    *,
    to: str,
    status: Status,
    original_message_id: str | None,
    original_subject: str,
    received_at: datetime,
    reason: Reason | None = None,
    reason_detail: str = "",
    rule: str | None = None,
    document: DocumentRow | None = None,
    document_json: dict[str, Any] | None = None,
    duplicate: bool = False,
    agency_code: str | None = None,
    agency_name: str | None = None,
) -> MailToSend:
    """The one reply that answers a message's verdict."""
    facts = ReplyFacts(
        status=status,
        to=to,
        original_message_id=original_message_id,
        original_subject=original_subject,
        received_at=received_at,
        reason=reason,
        reason_detail=reason_detail,
        rule=rule,
        document_id=document.id if document else None,
        incoming_number=document.incoming_number if document else None,
        book=document.book if document else None,
        year=document.year if document else None,
        duplicate=duplicate,
        agency_code=agency_code,
        agency_name=agency_name,
        document=document_json,
    )
    return _reply_mail(bridge, facts, kind="reply")


def status_notice(
    bridge: Bridge,
    document: DocumentRow,
    event: StatusEvent,
    *,
    document_json: dict[str, Any] | None = None,
    reason: Reason | None = None,
) -> Sequence[MailToSend]:
    """The notice of a later status change, to the agency that sent the document."""
    if not document.sender:
        return ()
    facts = ReplyFacts(
        status=Status(event.status),
        to=document.sender,
        original_message_id=document.message_id,
        original_subject=document.subject or "",
        received_at=document.received_at,
        reason=reason,
        document_id=document.id,
        incoming_number=document.incoming_number,
        book=document.book,
        year=document.year,
        agency_code=document.agency_code,
        agency_name=document.agency_name,
        note=event.note,
        actor=event.actor,
        document=document_json,
        notice=True,
    )
    return (_reply_mail(bridge, facts, kind="notice"),)


def classified_alert(bridge: Bridge, facts: AlertFacts) -> MailToSend | None:
    """The security contact's alert: facts and hashes only."""
    contact = bridge.settings.security_contact
    if not contact:
        return None
    message_id = make_message_id(bridge.identity.domain)
    msg = compose_security_alert(
        facts,
        to=contact,
        identity=bridge.identity,
        renderer=bridge.renderer,
        message_id=message_id,
        now=bridge.clock.now(),
    )
    return _mail(
        bridge, msg, kind="alert", to=contact, message_id=message_id, status=None
    )
