"""The built-in checks: one small class each, and their fixed order (STYLE rules 1-2).

They run before the admin's YAML rules and no rule can switch them off. Each returns
a frozen :class:`CheckResult`; the first hit ends the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mailbridge.codes import Reason, SignatureState
from mailbridge.policy.facts import Facts
from mailbridge.policy.verdict import Action

__all__ = ["BUILTIN_CHECKS", "Check", "CheckResult"]


@dataclass(frozen=True)
class CheckResult:
    hit: bool
    reason: Reason | None = None
    action: Action = "return"
    detail: str = ""


MISS = CheckResult(hit=False)


class Check(Protocol):
    name: str
    description: str

    def check(self, facts: Facts) -> CheckResult: ...


class WrongRecipient:
    name = "wrong-recipient"
    description = "none of the recipients is one of the bridge's registered addresses"

    def check(self, facts: Facts) -> CheckResult:
        ours = [r for r in facts.recipients if r.lower() in facts.settings.addresses]
        if ours:
            return MISS
        return CheckResult(
            hit=True, reason=Reason.WRONG_RECIPIENT, detail=", ".join(facts.recipients)
        )


class Malformed:
    name = "malformed"
    description = "the message cannot be read as a mail"

    def check(self, facts: Facts) -> CheckResult:
        if facts.msg is None or facts.malformed:
            return CheckResult(
                hit=True, reason=Reason.MALFORMED, detail=facts.malformed or ""
            )
        return MISS


class TooLarge:
    name = "too-large"
    description = "the message or one attachment is over the size limit"

    def check(self, facts: Facts) -> CheckResult:
        if facts.size > facts.settings.max_message_bytes:
            return CheckResult(
                hit=True, reason=Reason.TOO_LARGE, detail=f"{facts.size} bytes"
            )
        for finding in facts.attachment_findings:
            if finding.reason is Reason.TOO_LARGE:
                return CheckResult(
                    hit=True, reason=Reason.TOO_LARGE, detail=finding.detail
                )
        return MISS


class Classified:
    name = "classified"
    description = "a classification mark (MẬT, TỐI MẬT, TUYỆT MẬT) was found"

    def check(self, facts: Facts) -> CheckResult:
        result = facts.classification
        if result is not None and result.classified:
            return CheckResult(
                hit=True, reason=Reason.CLASSIFIED, detail=result.summary()
            )
        return MISS


class BannedAttachment:
    name = "banned-attachment"
    description = "an executable, script, macro file or dangerous archive is attached"

    def check(self, facts: Facts) -> CheckResult:
        for finding in facts.attachment_findings:
            if finding.reason is Reason.BANNED_ATTACHMENT:
                detail = f"{finding.filename}: {finding.detail}"
                return CheckResult(
                    hit=True, reason=Reason.BANNED_ATTACHMENT, detail=detail
                )
        return MISS


class Malware:
    name = "malware"
    description = "the virus scanner found malware"

    def check(self, facts: Facts) -> CheckResult:
        if facts.scan is not None and facts.scan.infected:
            return CheckResult(
                hit=True, reason=Reason.MALWARE, detail=facts.scan.signature or ""
            )
        return MISS


class UnknownSender:
    name = "unknown-sender"
    description = "the sender is not a registered agency"

    def check(self, facts: Facts) -> CheckResult:
        if facts.agency is not None:
            return MISS
        sender = facts.msg.from_address if facts.msg else None
        return CheckResult(
            hit=True, reason=Reason.UNKNOWN_SENDER, detail=sender or "(no From)"
        )


class Origin:
    name = "origin"
    description = "DKIM aligned with the From domain, or PGP/MIME by a registered key"

    def check(self, facts: Facts) -> CheckResult:
        if facts.pgp is not None and facts.pgp.present:
            if facts.pgp.ok:
                return MISS
            return CheckResult(
                hit=True, reason=Reason.PGP_FAIL, detail=facts.pgp.detail
            )
        if not facts.settings.require_dkim:
            return MISS
        dkim = facts.dkim
        if dkim is None or not dkim.present:
            return CheckResult(
                hit=True, reason=Reason.DKIM_MISSING, detail="no DKIM-Signature"
            )
        if not dkim.ok:
            return CheckResult(hit=True, reason=Reason.DKIM_FAIL, detail=dkim.detail)
        return MISS


class NoDocument:
    name = "no-document"
    description = "the message carries no PDF document"

    def check(self, facts: Facts) -> CheckResult:
        return MISS if facts.pdfs else CheckResult(hit=True, reason=Reason.NO_DOCUMENT)


def _pdf_detail(facts: Facts, state: SignatureState) -> str:
    parts = []
    for pdf in facts.pdfs:
        for sig in pdf.signatures:
            if sig.state is state:
                parts.append(f"{pdf.filename}: {sig.field_name}: {sig.detail}")
        if pdf.error and state is SignatureState.INVALID:
            parts.append(f"{pdf.filename}: {pdf.error}")
    return "; ".join(parts)


class DocumentSignature:
    name = "document-signature"
    description = "every PDF signature intact, trusted and covering the document"

    def check(self, facts: Facts) -> CheckResult:
        state = facts.signature_state
        if state is SignatureState.MODIFIED:
            return CheckResult(
                hit=True,
                reason=Reason.DOCUMENT_MODIFIED,
                detail=_pdf_detail(facts, state),
            )
        if state is SignatureState.INVALID:
            return CheckResult(
                hit=True,
                reason=Reason.SIGNATURE_INVALID,
                detail=_pdf_detail(facts, state),
            )
        if state is SignatureState.UNTRUSTED:
            detail = _pdf_detail(facts, state)
            return CheckResult(
                hit=True, reason=Reason.SIGNATURE_UNTRUSTED, detail=detail
            )
        if (
            state is SignatureState.MISSING
            and facts.settings.unsigned_documents == "reject"
        ):
            return CheckResult(
                hit=True, reason=Reason.UNSIGNED, detail="no digital signature"
            )
        return MISS


class ClassificationUncertain:
    name = "classification-uncertain"
    description = "some text could not be read, so classification cannot be ruled out"

    def check(self, facts: Facts) -> CheckResult:
        result = facts.classification
        if result is not None and result.uncertain:
            detail = "unreadable: " + ", ".join(result.unreadable)
            return CheckResult(hit=True, reason=None, action="hold", detail=detail)
        return MISS


#: The order of the built-in checks: nothing else decides it.
BUILTIN_CHECKS: tuple[Check, ...] = (
    WrongRecipient(),
    Malformed(),
    TooLarge(),
    Classified(),
    BannedAttachment(),
    Malware(),
    UnknownSender(),
    Origin(),
    NoDocument(),
    DocumentSignature(),
    ClassificationUncertain(),
)
