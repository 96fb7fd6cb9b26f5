"""What a PDF signer's certificate is judged against, and at what time.

The trust store is built once at start-up from ``trust.pdf_roots``.

Self-signed certificates become trust roots; every other certificate is an
intermediate offered to path building (PDFs often embed only the signer's leaf).
Offline CRLs come from ``trust.crl_dir``; the network is used only when
``trust.fetch_revocation`` says so. The certificate is judged at the claimed signing
time, corrected for signing tools that write Vietnam time marked as UTC.
"""

from __future__ import annotations

import glob
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from asn1crypto import crl, pem, x509
from pyhanko.pdf_utils.generic import parse_pdf_date
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.validation.generic_cms import extract_self_reported_ts
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import ValidationContext

from mailbridge.clock import VN_TZ
from mailbridge.errors import ConfigError, ConfigIssue, VerificationUnavailable

__all__ = ["PdfTrust", "SigningTime", "signing_time_of"]

log = logging.getLogger("mailbridge.verify")

_ROOTS_KEY = "trust.pdf_roots"
_CRL_KEY = "trust.crl_dir"


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise VerificationUnavailable(f"cannot read {path}: {exc.strerror}") from exc


def _der_blocks(data: bytes, pem_type: str) -> Iterator[bytes]:
    """The DER blocks of ``pem_type`` in a PEM file, or the file itself if DER."""
    if pem.detect(data):
        for type_name, _headers, der in pem.unarmor(data, multiple=True):
            if type_name == pem_type:
                yield der
    else:
        yield data


def _load_certificates(path: Path, key: str, source: str) -> list[x509.Certificate]:
    certificates = []
    try:
        for der in _der_blocks(_read(path), "CERTIFICATE"):
            certificate = x509.Certificate.load(der)
            certificate.native  # noqa: B018 - parse it all now, not during a check
            certificates.append(certificate)
    except (ValueError, TypeError) as exc:
        issue = ConfigIssue(source, None, key, f"{path} is not a certificate: {exc}")
        raise ConfigError([issue]) from exc
    if not certificates:
        issue = ConfigIssue(source, None, key, f"{path} holds no certificate")
        raise ConfigError([issue])
    return certificates


def _load_crls(crl_dir: Path, source: str) -> list[crl.CertificateList]:
    if not crl_dir.is_dir():
        issue = ConfigIssue(source, None, _CRL_KEY, f"{crl_dir} is not a folder")
        raise ConfigError([issue])
    crls = []
    for path in sorted(p for p in crl_dir.iterdir() if p.is_file()):
        try:
            for der in _der_blocks(_read(path), "X509 CRL"):
                revocation_list = crl.CertificateList.load(der)
                revocation_list.native  # noqa: B018 - parse it all now
                crls.append(revocation_list)
        except (ValueError, TypeError) as exc:
            issue = ConfigIssue(source, None, _CRL_KEY, f"{path} is not a CRL: {exc}")
            raise ConfigError([issue]) from exc
    return crls


@dataclass(frozen=True)
class PdfTrust:
    """Trust roots, intermediates and offline CRLs for PDF signature validation."""

    roots: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    crls: tuple[crl.CertificateList, ...] = ()
    fetch_revocation: bool = False

    @property
    def ok(self) -> bool:
        """At least one trust root: without one no signature can be trusted."""
        return bool(self.roots)

    @classmethod
    def from_config(
        cls,
        pdf_roots: Sequence[str],
        *,
        base_dir: Path,
        crl_dir: Path | None = None,
        fetch_revocation: bool = False,
        source: str = "mailbridge.yaml",
    ) -> PdfTrust:
        """Load every PEM/DER certificate the glob patterns in ``pdf_roots`` match.

        Patterns are relative to ``base_dir`` (the configuration file's folder) unless
        absolute; ``**`` recurses. A PEM file may hold several certificates.

        Raises :class:`ConfigError` (naming ``source`` and the key) when a pattern
        matches no file, or a matched file or a file in ``crl_dir`` is not a
        certificate/CRL: the admin must fix the configuration. Raises
        :class:`VerificationUnavailable` when a file exists but cannot be read
        (permissions, I/O error): retry later, never a verdict. An empty
        ``pdf_roots`` is allowed and makes every signature untrusted.
        """
        roots: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        for index, pattern in enumerate(pdf_roots):
            key = f"{_ROOTS_KEY}[{index}]"
            found = glob.glob(pattern, root_dir=base_dir, recursive=True)
            matches = sorted(base_dir / p for p in found if (base_dir / p).is_file())
            if not matches:
                message = f"{pattern!r} matches no file in {base_dir}"
                raise ConfigError([ConfigIssue(source, None, key, message)])
            for path in matches:
                for certificate in _load_certificates(path, key, source):
                    target = roots if certificate.self_issued else intermediates
                    if certificate not in target:
                        target.append(certificate)
        crls = [] if crl_dir is None else _load_crls(crl_dir, source)
        log.info(
            "PDF trust store: %d roots, %d intermediates, %d CRLs",
            len(roots),
            len(intermediates),
            len(crls),
        )
        return cls(
            roots=tuple(roots),
            intermediates=tuple(intermediates),
            crls=tuple(crls),
            fetch_revocation=fetch_revocation,
        )

    def validation_context(self, *, moment: datetime | None) -> ValidationContext:
        """A fresh pyHanko context validating at ``moment`` (aware; None = now).

        Revocation is soft-fail: a certificate with no known CRL still validates.
        Offline CRLs count whenever they were issued ("retroactive"), so a CRL
        fetched after the signing time still reports revocations before it.
        """
        return ValidationContext(
            trust_roots=list(self.roots),
            other_certs=list(self.intermediates),
            crls=list(self.crls) or None,
            allow_fetching=self.fetch_revocation,
            revocation_mode="soft-fail",
            moment=moment,
            retroactive_revinfo=True,
        )


#: Vietnam's offset: the size of the "local time written as UTC" quirk
_QUIRK = timedelta(hours=7)
_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class SigningTime:
    """The claimed signing time, corrected for the 7-hour quirk, and when to validate."""

    signing_time: datetime | None
    quirk: bool
    #: the instant the certificate is validated at (the signing time, else now)
    moment: datetime


def _claimed_times(
    emb: EmbeddedPdfSignature,
) -> tuple[datetime | None, datetime | None]:
    """(CMS signingTime, signature dictionary /M), each aware or None."""
    try:
        cms_time = extract_self_reported_ts(emb.signer_info)
    except (ValueError, KeyError, TypeError):
        cms_time = None
    try:
        pdf_time = parse_pdf_date(str(emb.sig_object["/M"]), strict=False)
    except (KeyError, ValueError, TypeError, PdfError):
        pdf_time = None
    if pdf_time is not None and pdf_time.tzinfo is None:
        pdf_time = pdf_time.replace(tzinfo=VN_TZ)  # no offset written: local time
    return cms_time, pdf_time


def signing_time_of(emb: EmbeddedPdfSignature, *, now: datetime) -> SigningTime:
    """Work out the signing time; detect local time written as UTC (7 h late).

    The quirk shows as the CMS signingTime and /M 7 hours apart (the later one is
    wrong), or, with one time only, as a time up to 7 hours in the future.
    """
    cms_time, pdf_time = _claimed_times(emb)
    claimed = cms_time or pdf_time
    quirk = False
    if cms_time is not None and pdf_time is not None:
        if abs(abs(cms_time - pdf_time) - _QUIRK) <= _TOLERANCE:
            quirk, claimed = True, min(cms_time, pdf_time)
    elif (
        claimed is not None and now + _TOLERANCE < claimed <= now + _QUIRK + _TOLERANCE
    ):
        quirk, claimed = True, claimed - _QUIRK
    moment = now if claimed is None or claimed > now + _TOLERANCE else claimed
    return SigningTime(signing_time=claimed, quirk=quirk, moment=moment)
