"""The stage sequence for one spooled message: the only place that knows the order.

parse -> origin (agency, DKIM, PGP) -> content (text, classification, attachments,
virus scan) -> PDF signatures -> metadata -> policy -> register and answer.

``gather_facts`` computes everything asynchronously (I/O and CPU-bound work off the
event loop); ``evaluate`` judges synchronously; :mod:`mailbridge.registration` writes
the result. ``mailbridge rules test`` runs the first two and stops.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from mailbridge.context import Bridge
from mailbridge.errors import VerificationUnavailable
from mailbridge.extract.classification import ClassificationResult, classify_message
from mailbridge.extract.metadata import DocumentMetadata, extract_metadata
from mailbridge.extract.text import PdfText, extract_office_text, extract_pdf_text
from mailbridge.message import (
    MalformedMessage,
    ParsedMessage,
    parse_message,
    sha256_hex,
)
from mailbridge.policy.attachments import inspect_attachments
from mailbridge.policy.engine import evaluate
from mailbridge.policy.facts import Facts, PolicySettings
from mailbridge.policy.verdict import Verdict
from mailbridge.spool import Envelope
from mailbridge.verify.dkim import DkimResult, verify_dkim
from mailbridge.verify.pdf import PdfVerification, verify_pdf
from mailbridge.verify.pgp import PgpResult, verify_pgp_mime

__all__ = ["Judged", "gather_facts", "judge", "policy_settings", "recipients_of"]

log = logging.getLogger("mailbridge.pipeline")


@dataclass(frozen=True)
class Judged:
    facts: Facts
    verdict: Verdict


def policy_settings(bridge: Bridge) -> PolicySettings:
    s = bridge.settings
    return PolicySettings(
        addresses=frozenset(s.bridge.addresses),
        max_message_bytes=s.smtp.max_message_bytes,
        require_dkim=s.policy.require_dkim,
        unsigned_documents=s.policy.unsigned_documents,
    )


def recipients_of(
    msg: ParsedMessage | None, envelope: Envelope, ours: frozenset[str]
) -> tuple[str, ...]:
    """The envelope recipients; for ingested files, our addresses among the headers."""
    if envelope.rcpt_tos:
        return tuple(r.lower() for r in envelope.rcpt_tos)
    if msg is None:
        return ()
    found: list[str] = []
    for name in ("Delivered-To", "X-Original-To", "To", "Cc"):
        for value in msg.header_all(name):
            for part in value.replace(";", ",").split(","):
                address = part.strip().rsplit("<", 1)[-1].rstrip(">").strip().lower()
                if "@" in address and address not in found:
                    found.append(address)
    mine = tuple(a for a in found if a in ours)
    return mine or tuple(found)


async def _texts(
    bridge: Bridge, msg: ParsedMessage
) -> tuple[dict[str, PdfText], dict[str, str]]:
    cfg = bridge.settings.classification
    pdf_texts: dict[str, PdfText] = {}
    office: dict[str, str] = {}
    for part in msg.attachments:
        if part.is_pdf:
            pdf_texts[part.filename] = await asyncio.to_thread(
                extract_pdf_text,
                part.data,
                ocr=cfg.ocr,
                ocr_languages=cfg.ocr_languages,
            )
            continue
        text = await asyncio.to_thread(extract_office_text, part.data, part.filename)
        if text is not None:
            office[part.filename] = text
    return pdf_texts, office


async def _origin(
    bridge: Bridge, msg: ParsedMessage, fingerprints: tuple[str, ...]
) -> tuple[DkimResult, PgpResult | None]:
    dkim = await verify_dkim(msg.raw, msg.from_domain, bridge.resolver)
    pgp: PgpResult | None = None
    if msg.msg.get_content_type() == "multipart/signed":
        pgp = await asyncio.to_thread(
            verify_pgp_mime,
            msg,
            keyring=bridge.settings.trust.pgp_keyring,
            fingerprints=fingerprints,
        )
    return dkim, pgp


async def gather_facts(bridge: Bridge, raw: bytes, envelope: Envelope) -> Facts:
    """Every fact about ``raw``; VerificationUnavailable when a check must wait."""
    settings = policy_settings(bridge)
    try:
        msg = parse_message(raw)
    except MalformedMessage as exc:
        return Facts(
            settings=settings,
            size=len(raw),
            recipients=recipients_of(None, envelope, settings.addresses),
            envelope_sender=envelope.mail_from,
            msg=None,
            raw_sha256=sha256_hex(raw),
            malformed=str(exc),
        )
    agency = bridge.live.agencies.lookup(msg.from_address)
    # classification first: classified bytes must leave the spool as soon as possible
    pdf_texts, office = await _texts(bridge, msg)
    classification: ClassificationResult = classify_message(msg, pdf_texts, office)
    fingerprints = agency.pgp_fingerprints if agency else ()
    dkim: DkimResult | None = None
    pgp: PgpResult | None = None
    try:
        dkim, pgp = await _origin(bridge, msg, fingerprints)
    except VerificationUnavailable:
        if not classification.classified:
            raise
        log.warning(
            "message_id=%s classified; DKIM not available, decided without it",
            msg.message_id,
        )
    findings = inspect_attachments(msg.attachments, bridge.settings.attachments)
    scan = await bridge.scanner.scan(raw) if bridge.scanner is not None else None
    pdfs: list[PdfVerification] = []
    metadata: DocumentMetadata | None = None
    if not classification.classified:
        for part in msg.pdfs:
            # pyHanko's checks are CPU-bound: run them on a loop of their own in a
            # thread, so the SMTP listener never waits for a signature check
            pdfs.append(
                await asyncio.to_thread(
                    asyncio.run, verify_pdf(part.data, part.filename, bridge.pdf_trust)
                )
            )
        main_text = pdf_texts.get(msg.pdfs[0].filename) if msg.pdfs else None
        signer = next(
            (s.signer_name for p in pdfs[:1] for s in p.signatures if s.signer_name),
            None,
        )
        metadata = await asyncio.to_thread(
            extract_metadata, main_text, msg, signer_from_certificate=signer
        )
    return Facts(
        settings=settings,
        size=len(raw),
        recipients=recipients_of(msg, envelope, settings.addresses),
        envelope_sender=envelope.mail_from,
        msg=msg,
        raw_sha256=msg.raw_sha256,
        agency=agency,
        dkim=dkim,
        pgp=pgp,
        classification=classification,
        attachment_findings=findings,
        scan=scan,
        pdfs=tuple(pdfs),
        metadata=metadata,
    )


async def judge(bridge: Bridge, raw: bytes, envelope: Envelope) -> Judged:
    """Facts and the verdict for ``raw``: what ``rules test`` prints."""
    facts = await gather_facts(bridge, raw, envelope)
    return Judged(facts, evaluate(facts, bridge.live.rules))
