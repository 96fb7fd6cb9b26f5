"""Reply mails (SPEC section 6) and the security alert, composed from plain facts.

:func:`compose_reply` turns :class:`ReplyFacts` into an :class:`EmailMessage` with
the SPEC headers, a Vietnamese text part rendered from ``templates/`` and an
``application/json`` part (``mailbridge-status.json``) carrying the same facts.
:func:`compose_security_alert` writes the alert on classified material: facts and
hashes only, never the document, its text, its subject or its file names.
The outbound spool signs and sends what these functions return.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import (
    Address,
)
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from mailbridge.clock import VN_TZ, isoformat
from mailbridge.codes import (
    STATUS_EDXML,
    STATUS_LABELS,
    URGENCY_LABELS,
    Classification,
    Reason,
    SignatureState,
    Status,
    Urgency,
)
from mailbridge.mailheaders import safe_header
from mailbridge.message import nfc, normalise_message_id
from mailbridge.reply.render import VERDICT_STATUSES, Renderer

__all__ = [
    "CLASSIFICATION_LABELS",
    "LEGAL_VALUE_LABELS",
    "SIGNATURE_STATE_LABELS",
    "AlertFacts",
    "BridgeIdentity",
    "ReplyFacts",
    "alert_context",
    "compose_reply",
    "compose_security_alert",
    "make_message_id",
    "status_json",
    "template_context",
]

SIGNATURE_STATE_LABELS: dict[str, str] = {
    SignatureState.VALID: "hợp lệ",
    SignatureState.MISSING: "không có chữ ký số",
    SignatureState.INVALID: "không hợp lệ",
    SignatureState.UNTRUSTED: "không xác minh được tới chứng thư gốc tin cậy",
    SignatureState.MODIFIED: "văn bản bị sửa đổi sau khi ký",
}
LEGAL_VALUE_LABELS: dict[str, str] = {
    "legal": "có giá trị pháp lý",
    "reference": "chỉ có giá trị tham khảo",
}
CLASSIFICATION_LABELS: dict[str, str] = {
    Classification.MAT: "MẬT",
    Classification.TOI_MAT: "TỐI MẬT",
    Classification.TUYET_MAT: "TUYỆT MẬT",
}
_LEVEL_KEYS = {label: key for key, label in CLASSIFICATION_LABELS.items()}
_URGENCIES = frozenset(str(u) for u in Urgency)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
_LABEL = re.compile(r"^[A-Za-z0-9_.:#/ -]{1,64}$")


@dataclass(frozen=True)
class ReplyFacts:
    """What a reply tells the agency; ``notice`` marks a later status change."""

    status: Status
    to: str
    original_message_id: str | None
    original_subject: str
    received_at: datetime
    reason: Reason | None = None
    reason_detail: str = ""
    rule: str | None = None
    document_id: int | None = None
    incoming_number: int | None = None
    book: str | None = None
    year: int | None = None
    duplicate: bool = False
    agency_code: str | None = None
    agency_name: str | None = None
    note: str | None = None
    actor: str | None = None
    document: Mapping[str, Any] | None = None
    notice: bool = False

    @property
    def classified(self) -> bool:
        """True for the ``CLASSIFIED`` reply, which repeats nothing of the message."""
        return self.reason == Reason.CLASSIFIED

    @property
    def template(self) -> str:
        """The body template: ``reply/<status>`` for a verdict, else ``notice/<status>``."""
        kind = (
            "reply" if not self.notice and self.status in VERDICT_STATUSES else "notice"
        )
        return f"{kind}/{self.status}.txt.j2"


@dataclass(frozen=True)
class BridgeIdentity:
    """Who the replies come from: ``bridge.name``, ``outbound.from_address``, ``bridge.domain``."""

    name: str
    from_address: str
    domain: str


def make_message_id(domain: str) -> str:
    """A new Message-ID at ``domain``, with angle brackets: ``<uuid4hex@domain>``."""
    return f"<{uuid.uuid4().hex}@{domain}>"


def _bracketed(message_id: str) -> str:
    bare = normalise_message_id(message_id)
    if bare is None:
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return f"<{bare}>"


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def _safe(facts: ReplyFacts) -> tuple[str, str, Mapping[str, Any] | None]:
    """Subject, detail and document as they may appear (nothing when classified)."""
    if facts.classified:
        return "", "", None
    return nfc(facts.original_subject), nfc(facts.reason_detail), facts.document


def _signatures(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    result = []
    for sig in document.get("signatures") or ():
        state = str(sig.get("state") or "")
        signing_time = sig.get("signing_time")
        if isinstance(signing_time, datetime):
            signing_time = isoformat(signing_time)
        result.append(
            {
                "state": state,
                "state_label": SIGNATURE_STATE_LABELS.get(state, state),
                "signer": sig.get("signer"),
                "organisation": sig.get("organisation"),
                "signing_time": signing_time,
            }
        )
    return result


def _document_context(document: Mapping[str, Any] | None) -> dict[str, Any]:
    doc = document or {}
    urgency = str(doc.get("urgency") or "")
    legal_value = doc.get("legal_value")
    deadline = doc.get("deadline")
    route_to = doc.get("route_to")
    if isinstance(route_to, list | tuple):
        route_to = ", ".join(str(unit) for unit in route_to) or None
    return {
        "document": dict(doc) if document is not None else None,
        "number_symbol": doc.get("number_symbol"),
        "issue_date": _json_default(doc["issue_date"])
        if doc.get("issue_date")
        else None,
        "document_type_name": doc.get("document_type_name"),
        "urgency_label": URGENCY_LABELS[Urgency(urgency)]
        if urgency in _URGENCIES
        else None,
        "abstract": doc.get("abstract"),
        "signer_name": doc.get("signer_name"),
        "legal_value": legal_value,
        "legal_value_label": LEGAL_VALUE_LABELS.get(str(legal_value))
        if legal_value
        else None,
        "signatures": _signatures(doc),
        "route_to": route_to,
        "deadline": _json_default(deadline) if deadline else None,
    }


def status_json(facts: ReplyFacts, *, now: datetime) -> dict[str, Any]:
    """The machine-readable twin of a reply (``mailbridge-status.json``)."""
    _subject, detail, document = _safe(facts)
    return {
        "status": str(facts.status),
        "status_label": STATUS_LABELS[facts.status],
        "reason": str(facts.reason) if facts.reason else None,
        "reason_detail": detail,
        "rule": facts.rule,
        "document_id": facts.document_id,
        "incoming_number": facts.incoming_number,
        "book": facts.book,
        "year": facts.year,
        "duplicate": facts.duplicate,
        "original_message_id": normalise_message_id(facts.original_message_id),
        "received_at": isoformat(_aware(facts.received_at, "received_at")),
        "decided_at": isoformat(_aware(now, "now")),
        "agency_code": facts.agency_code,
        "agency_name": facts.agency_name,
        "note": facts.note,
        "actor": facts.actor,
        "document": dict(document) if document is not None else None,
    }


def template_context(
    facts: ReplyFacts, *, identity: BridgeIdentity, now: datetime
) -> dict[str, Any]:
    """Every name the reply templates may use; all present, ``None`` when unknown.

    The facts of :func:`status_json`, plus the bridge, the sender's domain and the
    document's fields flattened with Vietnamese labels.
    """
    subject, _detail, document = _safe(facts)
    return {
        **status_json(facts, now=now),
        "bridge_name": identity.name,
        "bridge_address": identity.from_address,
        "bridge_domain": identity.domain,
        "to": facts.to,
        "sender_domain": facts.to.rsplit("@", 1)[-1],
        "status_edxml": STATUS_EDXML[facts.status],
        "notice": facts.notice,
        "classified": facts.classified,
        "registered": facts.document_id is not None
        or facts.incoming_number is not None,
        "original_subject": subject,
        **_document_context(document),
    }


def _tidy(text: str) -> str:
    """Trailing spaces off, at most one blank line in a row, one final newline."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n") + "\n"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _base(
    *, identity: BridgeIdentity, to: str, subject: str, now: datetime, message_id: str
) -> EmailMessage:
    msg = EmailMessage()
    sender = Address(display_name=identity.name, addr_spec=identity.from_address)
    msg["From"] = safe_header("From", sender)
    msg["To"] = safe_header("To", to)
    msg["Subject"] = safe_header("Subject", _one_line(subject))
    msg["Date"] = _aware(now, "now").astimezone(VN_TZ)
    msg["Message-ID"] = _bracketed(message_id)
    return msg


def _add_parts(
    msg: EmailMessage, text: str, data: Mapping[str, Any], filename: str
) -> None:
    msg.set_content(
        _tidy(text), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    payload = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)
    msg.add_attachment(
        payload.encode("utf-8"),
        maintype="application",
        subtype="json",
        filename=filename,
    )


def compose_reply(
    facts: ReplyFacts,
    *,
    identity: BridgeIdentity,
    renderer: Renderer,
    message_id: str,
    now: datetime,
) -> EmailMessage:
    """The reply (verdict or later notice) to the agency, ready to sign and send."""
    context = template_context(facts, identity=identity, now=now)
    subject = renderer.render("reply/subject.txt.j2", **context)
    body = renderer.render(facts.template, **context)
    msg = _base(
        identity=identity, to=facts.to, subject=subject, now=now, message_id=message_id
    )
    original = normalise_message_id(facts.original_message_id)
    if original is not None:
        msg["In-Reply-To"] = f"<{original}>"
        msg["References"] = f"<{original}>"
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Mailbridge-Status"] = str(facts.status)
    if facts.status == Status.RETURNED and facts.reason is not None:
        msg["X-Mailbridge-Reason"] = str(facts.reason)
    if facts.document_id is not None:
        msg["X-Mailbridge-Document-Id"] = str(facts.document_id)
    if facts.incoming_number is not None:
        msg["X-Mailbridge-Incoming-Number"] = str(facts.incoming_number)
    if facts.duplicate:
        msg["X-Mailbridge-Duplicate"] = "yes"
    _add_parts(msg, body, status_json(facts, now=now), "mailbridge-status.json")
    return msg


def _hash(value: str, name: str) -> str:
    value = value.strip().lower()
    if not _SHA256.match(value):
        raise ValueError(f"{name} is not a SHA-256 hex digest")
    return value


def _label(value: str) -> str | None:
    """A bridge-made label (source, level) when it cannot be document text, else None."""
    return value if _LABEL.match(value) else None


@dataclass(frozen=True)
class AlertFacts:
    """What the security contact is told of classified material: facts and hashes."""

    sender: str | None
    envelope_sender: str | None
    original_message_id: str | None
    raw_sha256: str
    attachment_hashes: Sequence[tuple[str, str]]
    level: str
    sources: Sequence[str]
    received_at: datetime


def alert_context(
    facts: AlertFacts, *, identity: BridgeIdentity, now: datetime
) -> dict[str, Any]:
    """The facts of a security alert; also its JSON part.

    ``attachment_hashes`` are ``(content type, sha256)`` pairs: the first item is kept
    only when it is a MIME type, because a file name may carry the document's title
    or mark. ``level`` is a :class:`Classification` key or its printed mark.
    ``sources`` are the bridge's own labels (``subject``, ``pdf:page-1``); anything
    that could be text of the message is left out. Senders are kept as bare addresses.
    """
    level = _LEVEL_KEYS.get(
        nfc(facts.level).strip().upper(), facts.level.strip().lower()
    )
    sender = parseaddr(facts.sender or "")[1] or None
    attachments = [
        {
            "index": index,
            "content_type": kind if _MIME_TYPE.match(kind.strip().lower()) else None,
            "sha256": _hash(digest, "attachment hash"),
        }
        for index, (kind, digest) in enumerate(facts.attachment_hashes, start=1)
    ]
    return {
        "alert": "classified",
        "bridge_name": identity.name,
        "bridge_address": identity.from_address,
        "level": _label(level),
        "level_label": CLASSIFICATION_LABELS.get(level, "không xác định"),
        "sources": [label for label in map(_label, facts.sources) if label],
        "sender": sender,
        "envelope_sender": parseaddr(facts.envelope_sender or "")[1] or None,
        "original_message_id": normalise_message_id(facts.original_message_id),
        "raw_sha256": _hash(facts.raw_sha256, "raw_sha256"),
        "attachments": attachments,
        "received_at": isoformat(_aware(facts.received_at, "received_at")),
        "detected_at": isoformat(_aware(now, "now")),
    }


def compose_security_alert(
    facts: AlertFacts,
    *,
    to: str,
    identity: BridgeIdentity,
    renderer: Renderer,
    message_id: str,
    now: datetime,
) -> EmailMessage:
    """The alert to ``security_contact`` that classified material arrived."""
    context = alert_context(facts, identity=identity, now=now)
    subject = renderer.render("alert/subject.txt.j2", **context)
    body = renderer.render("alert/classified.txt.j2", **context)
    msg = _base(
        identity=identity, to=to, subject=subject, now=now, message_id=message_id
    )
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailbridge-Alert"] = "classified"
    msg["X-Mailbridge-Reason"] = str(Reason.CLASSIFIED)
    data = {
        k: v for k, v in context.items() if k not in ("bridge_name", "bridge_address")
    }
    _add_parts(msg, body, data, "mailbridge-alert.json")
    return msg
