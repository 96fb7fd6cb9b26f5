"""PDF signature validation: pyHanko in, frozen facts out.

Each signature is checked for integrity (the signed bytes), cryptographic validity,
trust (a chain to ``trust.pdf_roots``, the certificate valid at the claimed signing
time) and later changes (pyHanko's difference analysis: only further signatures and
form filling may follow a signature). The document-level judgement follows SPEC.md:
a PDF is legal when at least one signature is valid and trusted and none is invalid
or modified. Policy reads these results and never calls pyHanko itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel

from mailbridge.clock import isoformat
from mailbridge.codes import SignatureState
from mailbridge.verify.pdf_trust import PdfTrust, SigningTime, signing_time_of

__all__ = ["PdfSignatureResult", "PdfTrust", "PdfVerification", "verify_pdf"]

log = logging.getLogger("mailbridge.verify")

_COVERAGE = {
    SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
    SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
}


@dataclass(frozen=True)
class PdfSignatureResult:
    """The facts about one signature of one PDF."""

    field_name: str
    state: SignatureState
    intact: bool
    valid: bool
    trusted: bool
    coverage: str
    modified_after: bool
    signer_name: str | None
    organisation: str | None
    signing_time: datetime | None
    signing_time_quirk: bool
    cert_valid_at_signing: bool
    subfilter: str | None
    detail: str

    @property
    def ok(self) -> bool:
        """Valid, trusted and untouched since signing."""
        return self.state is SignatureState.VALID

    def as_json(self) -> dict[str, Any]:
        """The SPEC's per-signature JSON object (plus mailbridge's extra facts)."""
        return {
            "state": self.state.value,
            "signer": self.signer_name,
            "organisation": self.organisation,
            "signing_time": isoformat(self.signing_time),
            "field_name": self.field_name,
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            "coverage": self.coverage,
            "subfilter": self.subfilter,
            "signing_time_quirk": self.signing_time_quirk,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PdfVerification:
    """Every signature of one PDF file, and the judgement on the file."""

    filename: str
    sha256: str
    signatures: tuple[PdfSignatureResult, ...]
    error: str | None = None

    @property
    def state(self) -> SignatureState:
        """Missing, modified, invalid, valid (one valid and trusted) or untrusted."""
        states = {s.state for s in self.signatures}
        if self.error is not None:
            return SignatureState.INVALID
        if not self.signatures:
            return SignatureState.MISSING
        if SignatureState.MODIFIED in states:
            return SignatureState.MODIFIED
        if SignatureState.INVALID in states:
            return SignatureState.INVALID
        if SignatureState.VALID in states:
            return SignatureState.VALID
        return SignatureState.UNTRUSTED

    @property
    def legal(self) -> bool:
        """SPEC: at least one valid and trusted signature, none invalid or modified."""
        return self.state is SignatureState.VALID

    @property
    def ok(self) -> bool:
        """Same as :attr:`legal`."""
        return self.legal

    def as_json(self) -> dict[str, Any]:
        """The file, its judgement and every signature, as stored and shown."""
        return {
            "filename": self.filename,
            "sha256": self.sha256,
            "state": self.state.value,
            "legal": self.legal,
            "error": self.error,
            "signatures": [s.as_json() for s in self.signatures],
        }


def _subject(emb: EmbeddedPdfSignature) -> tuple[str | None, str | None]:
    try:
        subject = emb.signer_cert.subject.native
    except (ValueError, KeyError, TypeError):
        return None, None
    return subject.get("common_name"), subject.get("organization_name")


def _subfilter(emb: EmbeddedPdfSignature) -> str | None:
    value = emb.sig_object.get("/SubFilter")
    return None if value is None else str(value).lstrip("/")


def _cert_valid_at(emb: EmbeddedPdfSignature, moment: datetime) -> bool:
    validity = emb.signer_cert["tbs_certificate"]["validity"]
    not_before: datetime = validity["not_before"].native
    not_after: datetime = validity["not_after"].native
    return not_before <= moment <= not_after


def _coverage(level: SignatureCoverageLevel | None) -> str:
    return "partial" if level is None else _COVERAGE.get(level, "partial")


def _modified(status: PdfSignatureStatus) -> bool:
    level = status.modification_level
    if level is None or status.docmdp_ok is False:
        return True
    return bool(level.value > ModificationLevel.FORM_FILLING.value)


def _detail(
    state: SignatureState,
    status: PdfSignatureStatus,
    timing: SigningTime,
    *,
    cert_ok: bool,
) -> str:
    if state is SignatureState.INVALID:
        if not status.intact:
            text = "Chữ ký không hợp lệ: nội dung được ký đã bị thay đổi (mã băm không khớp)."
        else:
            text = "Chữ ký không hợp lệ: giá trị chữ ký số không khớp với chứng thư số."
    elif state is SignatureState.MODIFIED:
        text = (
            "Văn bản đã bị sửa đổi sau khi ký (có thay đổi không phải là ký thêm "
            "hay điền biểu mẫu)."
        )
    elif state is SignatureState.UNTRUSTED:
        if not cert_ok:
            when = isoformat(timing.moment)
            text = f"Chứng thư số đã hết hạn hoặc chưa có hiệu lực vào thời điểm ký ({when})."
        elif status.revoked:
            text = "Chứng thư số của người ký đã bị thu hồi."
        else:
            indication = status.trust_problem_indic
            code = (
                ""
                if indication is None
                else f" ({getattr(indication, 'name', indication)})"
            )
            text = (
                "Chứng thư số không thuộc chuỗi tin cậy đã cấu hình "
                f"(trust.pdf_roots){code}."
            )
    else:
        text = "Chữ ký hợp lệ, chứng thư số tin cậy."
    if timing.quirk:
        text += " Thời gian ký được ghi bằng giờ Việt Nam nhưng đánh dấu là UTC (lệch 7 giờ)."
    return text


def _broken(
    field_name: str, emb: EmbeddedPdfSignature | None, problem: str
) -> PdfSignatureResult:
    signer, organisation = (None, None) if emb is None else _subject(emb)
    return PdfSignatureResult(
        field_name=field_name,
        state=SignatureState.INVALID,
        intact=False,
        valid=False,
        trusted=False,
        coverage="partial",
        modified_after=False,
        signer_name=signer,
        organisation=organisation,
        signing_time=None,
        signing_time_quirk=False,
        cert_valid_at_signing=False,
        subfilter=None if emb is None else _subfilter(emb),
        detail=f"Chữ ký không đọc được: {problem}",
    )


_Parsed = list[tuple[str, EmbeddedPdfSignature | None, str | None]]


def _parse(data: bytes) -> _Parsed:
    """Read the PDF and run the CPU-bound integrity and difference analysis."""
    reader = PdfFileReader(BytesIO(data), strict=False)
    parsed: _Parsed = []
    for field_name, sig_object, sig_field in enumerate_sig_fields(
        reader, filled_status=True
    ):
        if sig_object.get_object().get("/Type") == "/DocTimeStamp":
            continue
        try:
            emb = EmbeddedPdfSignature(reader, sig_field, field_name)
            emb.compute_integrity_info(diff_policy=DEFAULT_DIFF_POLICY)  # type: ignore[no-untyped-call]  # unannotated upstream
        except Exception as exc:  # noqa: BLE001 - a malformed signature is a finding, not a crash
            parsed.append((field_name, None, str(exc) or type(exc).__name__))
            continue
        parsed.append((field_name, emb, None))
    return parsed


async def _validate(
    field_name: str, emb: EmbeddedPdfSignature, trust: PdfTrust, now: datetime
) -> PdfSignatureResult:
    timing = signing_time_of(emb, now=now)
    context = trust.validation_context(moment=timing.moment)
    try:
        # integrity and differences were computed off the loop in _parse
        status = await async_validate_pdf_signature(
            emb, signer_validation_context=context, skip_diff=True
        )
    except Exception as exc:  # noqa: BLE001 - pyHanko raises many kinds for malformed CMS
        return _broken(field_name, emb, str(exc) or type(exc).__name__)
    finally:
        await context.aclose()  # type: ignore[no-untyped-call]  # unannotated upstream
    cert_ok = _cert_valid_at(emb, timing.moment)
    modified = _modified(status)
    trusted = bool(status.trusted) and cert_ok
    if not (status.intact and status.valid):
        state = SignatureState.INVALID
    elif modified:
        state = SignatureState.MODIFIED
    elif not trusted:
        state = SignatureState.UNTRUSTED
    else:
        state = SignatureState.VALID
    signer, organisation = _subject(emb)
    return PdfSignatureResult(
        field_name=field_name,
        state=state,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=trusted,
        coverage=_coverage(status.coverage),
        modified_after=modified,
        signer_name=signer,
        organisation=organisation,
        signing_time=timing.signing_time,
        signing_time_quirk=timing.quirk,
        cert_valid_at_signing=cert_ok,
        subfilter=_subfilter(emb),
        detail=_detail(state, status, timing, cert_ok=cert_ok),
    )


async def verify_pdf(
    data: bytes, filename: str, trust: PdfTrust, *, now: datetime | None = None
) -> PdfVerification:
    """Check every signature of one PDF against ``trust``.

    A file that cannot be read as a PDF gives ``error`` (state ``invalid``); a
    malformed signature gives an ``invalid`` result for its field. Certificates are
    validated at the claimed signing time (corrected for the 7-hour quirk), so a
    document signed while its certificate was valid stays valid after expiry.
    ``now`` (aware) pins the current time, for tests and replays.
    """
    sha256 = hashlib.sha256(data).hexdigest()
    try:
        parsed = await asyncio.to_thread(_parse, data)
    except Exception as exc:  # noqa: BLE001 - any parser failure means "not a readable PDF"
        log.info("%s (sha256 %s) is not a readable PDF: %s", filename, sha256, exc)
        error = f"not a readable PDF: {exc}"
        return PdfVerification(
            filename=filename, sha256=sha256, signatures=(), error=error
        )
    now = datetime.now(UTC) if now is None else now
    results = []
    for field_name, emb, problem in parsed:
        if emb is None:
            results.append(_broken(field_name, None, problem or "unknown"))
        else:
            results.append(await _validate(field_name, emb, trust, now))
    verification = PdfVerification(
        filename=filename, sha256=sha256, signatures=tuple(results)
    )
    log.info(
        "%s (sha256 %s): %s, signatures %s",
        filename,
        sha256,
        verification.state.value,
        [r.state.value for r in results],
    )
    return verification
