"""Writing a judged message to the register, with its files and its answer.

The raw bytes of a returned message are never stored; a registered document's PDFs
and annexes are stored content-addressed, with the original message (an
``Authentication-Results`` header added) as the record of what arrived. A classified
message leaves only hashes, sender, time and reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from mailbridge.answers import classified_alert, verdict_reply
from mailbridge.codes import (
    DOCUMENT_TYPE_NAMES,
    LegalValue,
    MessageVerdict,
    Reason,
    Status,
)
from mailbridge.context import Bridge
from mailbridge.deadlines import default_deadline, is_late
from mailbridge.policy.facts import Facts
from mailbridge.policy.verdict import Verdict
from mailbridge.register.models import DocumentRow, MessageRow
from mailbridge.register.repository import (
    MailToSend,
    NewDocument,
    NewFile,
    Recorded,
    record_outcome,
)
from mailbridge.register.serialize import document_json
from mailbridge.reply.compose import AlertFacts
from mailbridge.reply.guard import may_reply
from mailbridge.spool import Envelope

__all__ = ["record_judgement"]

log = logging.getLogger("mailbridge.register")


def _reply_allowed(facts: Facts) -> tuple[bool, str]:
    if facts.msg is None:
        return False, "unreadable message"
    decision = may_reply(
        facts.msg,
        envelope_sender=facts.envelope_sender,
        sender_registered=facts.agency is not None,
        dkim_passed=bool(facts.dkim is not None and facts.dkim.ok),
    )
    return decision.allowed, decision.reason


def _signed_at(facts: Facts) -> datetime | None:
    main = facts.main_pdf
    if main is None:
        return None
    times = [s.signing_time for s in main.signatures if s.signing_time is not None]
    return max(times) if times else None


def _deadline(facts: Facts, verdict: Verdict, received_at: datetime) -> datetime | None:
    if verdict.deadline_hours is not None:
        return received_at + timedelta(hours=verdict.deadline_hours)
    meta = facts.metadata
    if meta is not None and meta.deadline.value:
        try:
            day = datetime.fromisoformat(meta.deadline.value)
            return day.replace(tzinfo=received_at.tzinfo)
        except ValueError:
            pass
    return default_deadline(meta.urgency.value if meta else None, received_at)


def _document_fields(
    facts: Facts, verdict: Verdict, received_at: datetime
) -> dict[str, Any]:
    msg, meta, agency = facts.msg, facts.metadata, facts.agency
    assert msg is not None
    doc_type = meta.document_type.value if meta else None
    signatures = [
        {**sig.as_json(), "file": pdf.filename}
        for pdf in facts.pdfs
        for sig in pdf.signatures
    ]
    ours = [r for r in facts.recipients if r in facts.settings.addresses]
    if facts.dkim is not None:
        dkim = facts.dkim.as_json()
    else:
        dkim = {"result": "none", "domain": None}
    if facts.pgp is not None:
        dkim["pgp"] = {"valid": facts.pgp.valid, "fingerprint": facts.pgp.fingerprint}
    return {
        "agency_code": agency.code if agency else None,
        "agency_name": agency.name if agency else None,
        "sender": msg.from_address,
        "recipient": ours[0]
        if ours
        else (facts.recipients[0] if facts.recipients else None),
        "message_id": msg.message_id,
        "subject": msg.subject,
        "number_symbol": meta.number_symbol.value if meta else None,
        "issue_date": meta.issue_date.value if meta else None,
        "document_type": doc_type,
        "document_type_name": (meta.document_type_name.value if meta else None)
        or (DOCUMENT_TYPE_NAMES.get(doc_type) if doc_type else None),
        "urgency": (meta.urgency.value if meta else None) or "thuong",
        "abstract": meta.abstract.value if meta else None,
        "signer_name": meta.signer_name.value if meta else None,
        "signer_position": meta.signer_position.value if meta else None,
        "deadline": _deadline(facts, verdict, received_at),
        "legal_value": (
            LegalValue.LEGAL if facts.legal else LegalValue.REFERENCE
        ).value,
        "signatures": signatures,
        "dkim": dkim,
        "extracted": {
            "metadata": meta.as_json() if meta else None,
            "signature_state": facts.signature_state.value,
            "classification": facts.classification.summary()
            if facts.classification
            else None,
            "recipients": list(meta.recipients) if meta else [],
        },
        "route_to": verdict.route_to,
        "priority": verdict.priority,
        "tags": list(verdict.tags),
        "late": is_late(_signed_at(facts), received_at),
        "pdf_sha256": facts.main_pdf.sha256 if facts.main_pdf else None,
    }


def _store_files(
    bridge: Bridge, facts: Facts, auth_results: str | None
) -> list[NewFile]:
    msg = facts.msg
    assert msg is not None
    files: list[NewFile] = []
    verifications = {p.filename: p for p in facts.pdfs}
    seen: set[str] = set()
    for index, part in enumerate(msg.attachments):
        name = part.filename or f"attachment-{index + 1}"
        if name in seen:
            name = f"{index + 1}-{name}"
        seen.add(name)
        bridge.files.put(part.data)
        verification = verifications.get(part.filename)
        files.append(
            NewFile(
                name=name,
                content_type=part.content_type,
                size=part.size,
                sha256=part.sha256,
                role="document" if part.is_pdf and not files else "annex",
                verification={"state": verification.state.value}
                if verification
                else None,
            )
        )
    stored = msg.raw
    if auth_results:
        stored = f"Authentication-Results: {auth_results}\r\n".encode() + stored
    digest = bridge.files.put(stored)
    files.append(
        NewFile(
            name="original.eml",
            content_type="message/rfc822",
            size=len(stored),
            sha256=digest,
            role="message",
        )
    )
    return files


def record_judgement(
    bridge: Bridge, facts: Facts, verdict: Verdict, envelope: Envelope, spool_id: str
) -> Recorded:
    """Register the decision for one message and queue its answer (synchronous)."""
    now = bridge.clock.now()
    received_at = (
        datetime.fromisoformat(envelope.received_at) if envelope.received_at else now
    )
    msg = facts.msg
    classified = verdict.reason is Reason.CLASSIFIED
    allowed, why_not = _reply_allowed(facts)
    auth_results = (
        facts.dkim.authentication_results(bridge.identity.domain)
        if facts.dkim
        else None
    )
    if classified and msg is not None:
        verdict = _redacted(verdict, [a.filename for a in msg.attachments])
    message_verdict = verdict.message_verdict
    if verdict.action == "return" and not allowed:
        message_verdict = MessageVerdict.IGNORED
    row = MessageRow(
        spool_id=spool_id,
        node=bridge.node,
        source=envelope.source,
        message_id=msg.message_id if msg else None,
        message_id_hash=msg.message_id_hash if msg else facts.raw_sha256,
        raw_sha256=facts.raw_sha256,
        size=facts.size,
        received_at=received_at,
        decided_at=now,
        sender=msg.from_address if msg else None,
        envelope_sender=envelope.mail_from,
        recipients=list(facts.recipients),
        subject=None if classified or msg is None else msg.subject,
        agency_code=facts.agency.code if facts.agency else None,
        verdict=message_verdict.value,
        reason=verdict.reason.value if verdict.reason else None,
        reason_detail=verdict.detail or (None if allowed else f"no reply: {why_not}"),
        rule=verdict.rule,
        authentication_results=auth_results,
        facts=_message_facts(facts, classified=classified, reply=(allowed, why_not)),
        trace=verdict.trace_json(),
    )
    document: NewDocument | None = None
    if verdict.action in ("accept", "hold") and msg is not None:
        keys = [f"msgid:{msg.message_id_hash}"] if msg.message_id else []
        if facts.main_pdf is not None:
            keys.append(f"pdf:{facts.main_pdf.sha256}")
        document = NewDocument(
            status=Status.ACCEPTED if verdict.action == "accept" else Status.ARRIVED,
            keys=tuple(keys),
            fields=_document_fields(facts, verdict, received_at),
            files=tuple(_store_files(bridge, facts, auth_results)),
            note=verdict.detail or None,
        )

    def compose(
        session: Session,
        message: MessageRow,
        doc: DocumentRow | None,
        duplicate: bool,  # noqa: FBT001 - the repository's Composer callback shape
    ) -> Sequence[MailToSend]:
        mails: list[MailToSend] = []
        if classified and facts.classification is not None:
            names = [a.filename for a in msg.attachments] if msg else []
            alert = classified_alert(
                bridge,
                AlertFacts(
                    sender=msg.from_address if msg else None,
                    envelope_sender=envelope.mail_from,
                    original_message_id=msg.message_id if msg else None,
                    raw_sha256=facts.raw_sha256,
                    attachment_hashes=[
                        (a.content_type, a.sha256)
                        for a in (msg.attachments if msg else ())
                    ],
                    level=str(facts.classification.level or ""),
                    sources=[
                        _redact(f.source, names) for f in facts.classification.findings
                    ],
                    received_at=received_at,
                ),
            )
        else:
            alert = None
        if allowed and msg is not None and msg.from_address:
            mails.append(
                _reply(
                    bridge,
                    session,
                    facts,
                    verdict,
                    doc,
                    duplicate=duplicate,
                    received_at=received_at,
                )
            )
        if alert is not None:
            mails.append(alert)
        return mails

    return record_outcome(
        bridge.engine,
        row,
        document,
        book=bridge.settings.numbering.book,
        now=now,
        compose=compose,
    )


def _reply(
    bridge: Bridge,
    session: Session,
    facts: Facts,
    verdict: Verdict,
    doc: DocumentRow | None,
    *,
    duplicate: bool,
    received_at: datetime,
) -> MailToSend:
    msg = facts.msg
    assert msg is not None and msg.from_address
    if verdict.action == "return":
        status = Status.RETURNED
    elif doc is not None and doc.incoming_number is not None:
        status = Status.ACCEPTED
    else:
        status = Status.ARRIVED
    doc_json = document_json(session, doc) if doc is not None else None
    return verdict_reply(
        bridge,
        to=msg.from_address,
        status=status,
        original_message_id=msg.message_id,
        original_subject="" if verdict.reason is Reason.CLASSIFIED else msg.subject,
        received_at=received_at,
        reason=verdict.reason if verdict.action == "return" else None,
        reason_detail=verdict.detail,
        rule=verdict.rule,
        document=doc,
        document_json=doc_json,
        duplicate=duplicate,
        agency_code=facts.agency.code if facts.agency else None,
        agency_name=facts.agency.name if facts.agency else None,
    )


def _redact(text: str, names: Sequence[str]) -> str:
    """``text`` with every attachment name replaced by its position.

    A classified message keeps no name: a file name can carry the title or the mark.
    """
    for index, name in sorted(enumerate(names), key=lambda p: -len(p[1])):
        if name:
            text = text.replace(name, f"attachment-{index + 1}")
    return text


def _redacted(verdict: Verdict, names: Sequence[str]) -> Verdict:
    trace = tuple(replace(e, detail=_redact(e.detail, names)) for e in verdict.trace)
    return replace(verdict, detail=_redact(verdict.detail, names), trace=trace)


def _message_facts(
    facts: Facts, *, classified: bool, reply: tuple[bool, str]
) -> dict[str, Any]:
    msg = facts.msg
    names = [a.filename for a in msg.attachments] if msg else []
    data: dict[str, Any] = {
        "reply_allowed": reply[0],
        "reply_guard": reply[1],
        "malformed": facts.malformed,
        "signature_state": facts.signature_state.value if facts.pdfs else None,
    }
    if msg is not None:
        data["attachments"] = [
            {
                "name": None if classified else a.filename,
                "size": a.size,
                "sha256": a.sha256,
            }
            for a in msg.attachments
        ]
    if facts.dkim is not None:
        data["dkim"] = facts.dkim.as_json()
    if facts.classification is not None:
        data["classification"] = {
            "level": facts.classification.level,
            "sources": [
                _redact(f.source, names) if classified else f.source
                for f in facts.classification.findings
            ],
            "unreadable": list(facts.classification.unreadable),
        }
    if not classified:
        data["pdfs"] = [
            {"file": p.filename, "state": p.state.value, "sha256": p.sha256}
            for p in facts.pdfs
        ]
    return data
