"""Sign PDFs with pyHanko, and make minimal Vietnamese PDFs with reportlab.

Used by the tests and by ``mailbridge demo``. Signing is incremental: signing a
signed PDF again adds a second signature (the competent person's, then the
organisation's), as real documents carry.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Sequence
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from mailbridge.clock import VN_TZ

if TYPE_CHECKING:
    from mailbridge.sample.pki import TestPki

__all__ = [
    "SubFilter",
    "async_sign_pdf",
    "find_font",
    "make_plain_pdf",
    "sign_pdf",
    "sign_twice",
]

SubFilter = Literal["ETSI.CAdES.detached", "adbe.pkcs7.detached"]

_SUBFILTERS: dict[str, fields.SigSeedSubFilter] = {
    "ETSI.CAdES.detached": fields.SigSeedSubFilter.PADES,
    "adbe.pkcs7.detached": fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED,
}
_FONT_NAME = "DejaVuSans"
_SYSTEM_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts"),
)


def find_font(filename: str = "DejaVuSans.ttf") -> Path:
    """Find a TrueType font in the usual folders (system, matplotlib, reportlab).

    Raises FileNotFoundError naming the folders searched.
    """
    folders = list(_SYSTEM_FONT_DIRS)
    for package, sub in (
        ("matplotlib", ("mpl-data", "fonts", "ttf")),
        ("reportlab", ("fonts",)),
    ):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            folders.append(Path(spec.origin).parent.joinpath(*sub))
    for folder in folders:
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(f) for f in folders)
    raise FileNotFoundError(f"font {filename} not found in: {searched}")


def make_plain_pdf(text_lines: Sequence[str]) -> bytes:
    """A one-page A4 PDF with ``text_lines`` in DejaVu Sans (Vietnamese renders)."""
    if _FONT_NAME not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT_NAME, str(find_font())))
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, invariant=True)
    pdf.setFont(_FONT_NAME, 12)
    _, height = A4
    y = height - 72
    for line in text_lines:
        pdf.drawString(72, y, line)
        y -= 18
        if y < 72:
            pdf.showPage()
            pdf.setFont(_FONT_NAME, 12)
            y = height - 72
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


async def _sign(
    writer: IncrementalPdfFileWriter,
    pdf_signer: signers.PdfSigner,
    *,
    signing_time: datetime | None,
    cms_signing_time: datetime | None,
) -> bytes:
    """pyHanko's ``async_sign_pdf`` with the signing time under our control."""
    session = pdf_signer.init_signing_session(writer)
    if signing_time is not None:
        session.system_time = signing_time
    validation_info = await session.perform_presign_validation(writer)
    bytes_reserved = await session.estimate_signature_container_size(validation_info)
    tbs = session.prepare_tbs_document(
        validation_info=validation_info, bytes_reserved=bytes_reserved
    )
    prepared, output = tbs.digest_tbs_document(output=BytesIO())
    post = await tbs.perform_signature(
        document_digest=prepared.document_digest,
        pdf_cms_signed_attrs=PdfCMSSignedAttributes(
            signing_time=cms_signing_time or session.system_time
        ),
    )
    await post.post_signature_processing(output)
    output.seek(0)
    data: bytes = output.read()
    return data


async def async_sign_pdf(
    data: bytes,
    *,
    cert_pem: Path,
    key_pem: Path,
    chain: Sequence[Path] = (),
    field_name: str = "Signature1",
    subfilter: SubFilter = "ETSI.CAdES.detached",
    signing_time: datetime | None = None,
    embed_chain: bool = False,
    quirk_local_time_as_utc: bool = False,
) -> bytes:
    """Add one invisible signature to ``data`` (incrementally) and return the PDF.

    Only the signer's certificate is embedded unless ``embed_chain`` (then ``chain``
    too), as many real documents do. ``signing_time`` (aware; default now) goes into
    the signature dictionary's /M and, for ``adbe.pkcs7.detached``, the CMS
    signingTime (PAdES leaves it out). ``quirk_local_time_as_utc`` imitates signing
    tools that write Vietnam local time marked as UTC (7 h off): into the CMS
    signingTime for ``adbe.pkcs7.detached`` (/M stays right), into /M for PAdES.
    """
    when = datetime.now(VN_TZ) if signing_time is None else signing_time
    if when.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    when = when.astimezone(VN_TZ).replace(microsecond=0)
    cms_time = None
    if quirk_local_time_as_utc:
        local_as_utc = when.replace(tzinfo=UTC)  # 7 h later than the real instant
        if subfilter == "adbe.pkcs7.detached":
            cms_time = local_as_utc
        else:
            when = local_as_utc
    signer = signers.SimpleSigner.load(  # type: ignore[no-untyped-call]  # unannotated upstream
        key_file=str(key_pem),
        cert_file=str(cert_pem),
        ca_chain_files=[str(p) for p in chain] if embed_chain else None,
    )
    if signer is None:
        raise ValueError(
            f"cannot load the signing key {key_pem} or certificate {cert_pem}"
        )
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(
            field_name=field_name, subfilter=_SUBFILTERS[subfilter]
        ),
        signer=signer,
    )
    writer = IncrementalPdfFileWriter(BytesIO(data), strict=False)
    return await _sign(writer, pdf_signer, signing_time=when, cms_signing_time=cms_time)


def sign_pdf(
    data: bytes,
    *,
    cert_pem: Path,
    key_pem: Path,
    chain: Sequence[Path] = (),
    field_name: str = "Signature1",
    subfilter: SubFilter = "ETSI.CAdES.detached",
    signing_time: datetime | None = None,
    embed_chain: bool = False,
    quirk_local_time_as_utc: bool = False,
) -> bytes:
    """:func:`async_sign_pdf` for callers without an event loop."""
    return asyncio.run(
        async_sign_pdf(
            data,
            cert_pem=cert_pem,
            key_pem=key_pem,
            chain=chain,
            field_name=field_name,
            subfilter=subfilter,
            signing_time=signing_time,
            embed_chain=embed_chain,
            quirk_local_time_as_utc=quirk_local_time_as_utc,
        )
    )


def sign_twice(pdf: bytes, pki: TestPki) -> bytes:
    """``pdf`` with the person's and then the organisation's signature (test CA)."""
    signed = sign_pdf(
        pdf,
        cert_pem=pki.person.cert_path,
        key_pem=pki.person.key_path,
        chain=pki.person.chain,
        field_name="ChuKyCaNhan",
    )
    return sign_pdf(
        signed,
        cert_pem=pki.organisation.cert_path,
        key_pem=pki.organisation.key_path,
        chain=pki.organisation.chain,
        field_name="ChuKyToChuc",
    )
