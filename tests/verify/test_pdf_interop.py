"""PDF signatures across tools: poppler/NSS and OpenSSL signers, poppler's pdfsig checker.

mailbridge must accept what other signing tools produce, and what it signs for the
demo must verify elsewhere. pdfsig cannot know the test CA, so only "Signature is
Valid." is required from it, never "Certificate is Trusted".
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    load_pem_private_key,
    pkcs12,
)
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.signers.pdf_signer import PdfTBSDocument

from mailbridge.sample.pki import PkiEntity, TestPki, make_test_pki
from mailbridge.sample.sign import make_plain_pdf, sign_pdf
from mailbridge.verify.pdf import PdfTrust, PdfVerification, verify_pdf

PERSON = ("Nguyễn Văn An", "Văn phòng Tỉnh ủy Khánh Hòa (TEST)")
ORGANISATION = ("Văn phòng Tỉnh ủy Khánh Hòa (TEST)",) * 2
VALID_LINE = "  - Signature Validation: Signature is Valid."
P12_PASSWORD = "test"

needs_nss = pytest.mark.skipif(
    shutil.which("certutil") is None or shutil.which("pk12util") is None,
    reason="certutil/pk12util (Debian libnss3-tools) are needed to sign with pdfsig",
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> PdfTrust:
    return PdfTrust.from_config(
        [str(p) for p in pki.trust_pem_paths], base_dir=pki.dest
    )


@pytest.fixture(scope="module")
def plain() -> bytes:
    return make_plain_pdf(["ỦY BAN NHÂN DÂN TỈNH KHÁNH HÒA", "Số 45/UBND-VP"])


@pytest.fixture(scope="module")
def nss_db(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An NSS database holding the person's and the organisation's key."""
    folder = tmp_path_factory.mktemp("nssdb")
    db = f"sql:{folder}"
    subprocess.run(
        ["certutil", "-N", "-d", db, "--empty-password"], check=True, timeout=30
    )
    for nick, entity in (("person", pki.person), ("organisation", pki.organisation)):
        key = load_pem_private_key(entity.key_path.read_bytes(), None)
        cert = x509.load_pem_x509_certificate(entity.cert_path.read_bytes())
        bundle = folder / f"{nick}.p12"
        encryption = BestAvailableEncryption(P12_PASSWORD.encode())
        bundle.write_bytes(
            pkcs12.serialize_key_and_certificates(
                nick.encode(),
                key,  # type: ignore[arg-type]  # an RSA key: the PKI makes no other
                cert,
                None,
                encryption,
            )
        )
        subprocess.run(
            ["pk12util", "-i", str(bundle), "-d", db, "-W", P12_PASSWORD, "-K", ""],
            check=True,
            capture_output=True,
            timeout=30,
        )
    return db


def verify(data: bytes, trust: PdfTrust) -> PdfVerification:
    return asyncio.run(verify_pdf(data, "van-ban.pdf", trust))


def pdfsig_report(data: bytes, folder: Path) -> str:
    """What poppler's pdfsig says about the document (it exits 0 either way)."""
    path = folder / "check.pdf"
    path.write_bytes(data)
    done = subprocess.run(
        ["pdfsig", "-no-ocsp", str(path)], capture_output=True, text=True, timeout=60
    )
    return done.stdout


def poppler_sign(data: bytes, nick: str, field: str, db: str, folder: Path) -> bytes:
    """Sign with poppler's own signer (NSS), an implementation unrelated to pyHanko."""
    source, target = folder / f"in-{field}.pdf", folder / f"out-{field}.pdf"
    source.write_bytes(data)
    subprocess.run(
        [
            "pdfsig", "-nssdir", db, "-add-signature", "-nick", nick,
            "-new-signature-field-name", field, "-reason", "Ký ban hành",
            str(source), str(target),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return target.read_bytes()


async def openssl_sign(
    data: bytes, entity: PkiEntity, subfilter: fields.SigSeedSubFilter
) -> bytes:
    """pyHanko lays out the PDF; ``openssl cms -sign -cades`` makes the signature."""
    certificate = load_cert_from_pemder(str(entity.cert_path))  # type: ignore[no-untyped-call]  # unannotated upstream
    placeholder = signers.ExternalSigner(
        signing_cert=certificate, cert_registry=None, signature_value=bytes(256)
    )
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=subfilter)
    pdf_signer = signers.PdfSigner(meta, signer=placeholder)
    writer = IncrementalPdfFileWriter(BytesIO(data))
    prepared, _tbs, output = await pdf_signer.async_digest_doc_for_signing(
        writer, bytes_reserved=16384
    )
    output.seek(0)
    layout = output.read()
    signed_bytes = (
        layout[: prepared.reserved_region_start]
        + layout[prepared.reserved_region_end :]
    )
    openssl = await asyncio.create_subprocess_exec(
        "openssl", "cms", "-sign", "-binary", "-outform", "DER", "-md", "sha256",
        "-cades", "-signer", str(entity.cert_path), "-inkey", str(entity.key_path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    der, _ = await asyncio.wait_for(openssl.communicate(signed_bytes), timeout=60)
    assert openssl.returncode == 0
    await PdfTBSDocument.async_finish_signing(
        output, prepared, cms.ContentInfo.load(der)
    )
    output.seek(0)
    signed: bytes = output.read()
    return signed


@pytest.mark.parametrize("subfilter", ["ETSI.CAdES.detached", "adbe.pkcs7.detached"])
def test_pdfsig_accepts_what_mailbridge_signs(
    pki: TestPki, trust: PdfTrust, plain: bytes, subfilter: str, tmp_path: Path
) -> None:
    """pdfsig finds the pyHanko signature valid, as mailbridge does."""
    data = sign_pdf(
        plain,
        cert_pem=pki.person.cert_path,
        key_pem=pki.person.key_path,
        subfilter=subfilter,  # type: ignore[arg-type]  # parametrised literal
    )
    report = pdfsig_report(data, tmp_path)
    expected = (1, f"  - Signature Type: {subfilter}", "valid")
    actual = (
        report.count(VALID_LINE),
        next(line for line in report.splitlines() if "Signature Type" in line),
        verify(data, trust).state.value,
    )
    assert expected == actual


def test_pdfsig_accepts_personal_and_organisation_signatures(
    pki: TestPki, trust: PdfTrust, plain: bytes, tmp_path: Path
) -> None:
    """Both incremental signatures verify in pdfsig and in mailbridge."""
    first = sign_pdf(plain, cert_pem=pki.person.cert_path, key_pem=pki.person.key_path)
    both = sign_pdf(
        first,
        cert_pem=pki.organisation.cert_path,
        key_pem=pki.organisation.key_path,
        field_name="Signature2",
    )
    report = pdfsig_report(both, tmp_path)
    expected = (2, ["valid", "valid"])
    actual = (
        report.count(VALID_LINE),
        [s.state.value for s in verify(both, trust).signatures],
    )
    assert expected == actual


@needs_nss
def test_poppler_signed_document_is_valid(
    pki: TestPki, trust: PdfTrust, plain: bytes, nss_db: str, tmp_path: Path
) -> None:
    """A signature made by poppler/NSS validates, names and all."""
    data = poppler_sign(plain, "person", "Signature1", nss_db, tmp_path)
    result = verify(data, trust)
    s = result.signatures[0]
    expected = ("valid", True, *PERSON, "adbe.pkcs7.detached", 1)
    actual = (
        result.state.value,
        result.legal,
        s.signer_name,
        s.organisation,
        s.subfilter,
        pdfsig_report(data, tmp_path).count(VALID_LINE),
    )
    assert expected == actual


@needs_nss
def test_poppler_organisation_signature_over_a_pyhanko_one(
    pki: TestPki, trust: PdfTrust, plain: bytes, nss_db: str, tmp_path: Path
) -> None:
    """Personal signature by pyHanko, organisation's by poppler: both valid."""
    first = sign_pdf(plain, cert_pem=pki.person.cert_path, key_pem=pki.person.key_path)
    both = poppler_sign(first, "organisation", "Signature2", nss_db, tmp_path)
    result = verify(both, trust)
    expected = ("valid", [("valid", *PERSON), ("valid", *ORGANISATION)])
    actual = (
        result.state.value,
        [(s.state.value, s.signer_name, s.organisation) for s in result.signatures],
    )
    assert expected == actual


@needs_nss
def test_poppler_signed_then_tampered_is_invalid(
    pki: TestPki, trust: PdfTrust, plain: bytes, nss_db: str, tmp_path: Path
) -> None:
    """A byte changed in a poppler-signed file: both checkers refuse it."""
    signed = bytearray(poppler_sign(plain, "person", "Signature1", nss_db, tmp_path))
    signed[signed.index(b"ReportLab Generated")] = ord("r")
    tampered = bytes(signed)
    expected = ("invalid", False, 0)
    actual = (
        verify(tampered, trust).state.value,
        verify(tampered, trust).signatures[0].intact,
        pdfsig_report(tampered, tmp_path).count(VALID_LINE),
    )
    assert expected == actual


@pytest.mark.parametrize(
    "subfilter",
    [fields.SigSeedSubFilter.PADES, fields.SigSeedSubFilter.ADOBE_PKCS7_DETACHED],
)
def test_openssl_cms_signature_is_valid(
    pki: TestPki,
    trust: PdfTrust,
    plain: bytes,
    subfilter: fields.SigSeedSubFilter,
    tmp_path: Path,
) -> None:
    """A CAdES container produced by OpenSSL validates in both SubFilters."""
    data = asyncio.run(openssl_sign(plain, pki.person, subfilter))
    result = verify(data, trust)
    expected = ("valid", subfilter.value.lstrip("/"), PERSON[0], 1)
    actual = (
        result.state.value,
        result.signatures[0].subfilter,
        result.signatures[0].signer_name,
        pdfsig_report(data, tmp_path).count(VALID_LINE),
    )
    assert expected == actual
