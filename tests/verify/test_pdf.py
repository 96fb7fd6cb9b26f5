"""PDF signature validation on documents signed with pyHanko and the test PKI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from mailbridge.clock import VN_TZ
from mailbridge.codes import SignatureState
from mailbridge.errors import ConfigError
from mailbridge.sample.pki import PkiEntity, TestPki, make_test_pki, write_crl
from mailbridge.sample.sign import make_plain_pdf, sign_pdf
from mailbridge.verify.pdf import PdfTrust, PdfVerification, verify_pdf

TEXT = ["TỈNH ỦY KHÁNH HÒA", "Số 123-CV/TU", "V/v triển khai công tác văn thư"]
PERSON = ("Nguyễn Văn An", "Văn phòng Tỉnh ủy Khánh Hòa (TEST)")
VALID_DETAIL = "Chữ ký hợp lệ, chứng thư số tin cậy."


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def trust(pki: TestPki) -> PdfTrust:
    return PdfTrust.from_config(["root.pem", "ca-*.pem"], base_dir=pki.dest)


@pytest.fixture(scope="module")
def plain() -> bytes:
    return make_plain_pdf(TEXT)


def sign_as(entity: PkiEntity, data: bytes, **options: Any) -> bytes:
    return sign_pdf(data, cert_pem=entity.cert_path, key_pem=entity.key_path, **options)


def verify(data: bytes, trust: PdfTrust) -> PdfVerification:
    return asyncio.run(verify_pdf(data, "van-ban.pdf", trust))


def change_page_content(data: bytes) -> bytes:
    """Append an incremental update that replaces the page's text (not a signature)."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    page = writer.root["/Pages"]["/Kids"][0].get_object()
    forged = generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 400 Td (Sua doi) Tj ET")
    page["/Contents"] = writer.add_object(forged)
    writer.update_container(page)
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]  # unannotated upstream
    return out.getvalue()


@pytest.mark.parametrize("subfilter", ["ETSI.CAdES.detached", "adbe.pkcs7.detached"])
def test_valid_signature_of_a_trusted_person(
    pki: TestPki, trust: PdfTrust, plain: bytes, subfilter: str
) -> None:
    """A leaf-only signature chaining through the trusted intermediate is valid."""
    result = verify(sign_as(pki.person, plain, subfilter=subfilter), trust)
    s = result.signatures[0]
    expected = ("valid", True, *PERSON, subfilter, "entire_file", VALID_DETAIL)
    actual = (
        result.state.value,
        result.legal,
        s.signer_name,
        s.organisation,
        s.subfilter,
        s.coverage,
        s.detail,
    )
    assert expected == actual


def test_as_json_reports_vietnam_time(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """The JSON view carries the SPEC keys and the signing time with +07:00."""
    when = datetime(2026, 11, 22, 2, 15, tzinfo=UTC)
    data = sign_as(pki.person, plain, signing_time=when)
    expected = {
        "state": "valid",
        "signer": "Nguyễn Văn An",
        "organisation": "Văn phòng Tỉnh ủy Khánh Hòa (TEST)",
        "signing_time": "2026-11-22T09:15:00+07:00",
        "field_name": "Signature1",
        "intact": True,
        "valid": True,
        "trusted": True,
        "coverage": "entire_file",
        "subfilter": "ETSI.CAdES.detached",
        "signing_time_quirk": False,
        "detail": VALID_DETAIL,
    }
    actual = verify(data, trust).signatures[0].as_json()
    assert expected == actual


def test_personal_and_organisation_signatures_both_reported(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """A second, incremental signature is not a modification of the first."""
    first = sign_as(pki.person, plain)
    both = sign_as(pki.organisation, first, field_name="Signature2")
    result = verify(both, trust)
    expected = (
        "valid",
        [
            ("Signature1", "valid", *PERSON, "entire_revision", False),
            ("Signature2", "valid", PERSON[1], PERSON[1], "entire_file", False),
        ],
    )
    actual = (
        result.state.value,
        [
            (
                s.field_name,
                s.state.value,
                s.signer_name,
                s.organisation,
                s.coverage,
                s.modified_after,
            )
            for s in result.signatures
        ],
    )
    assert expected == actual


def test_byte_changed_in_signed_range_is_invalid(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """One byte flipped inside the signed range breaks the hash: invalid, not legal."""
    signed = bytearray(sign_as(pki.person, plain))
    signed[signed.index(b"ReportLab Generated")] = ord("r")
    result = verify(bytes(signed), trust)
    s = result.signatures[0]
    expected = (
        "invalid",
        False,
        False,
        "Chữ ký không hợp lệ: nội dung được ký đã bị thay đổi (mã băm không khớp).",
    )
    actual = (result.state.value, result.legal, s.intact, s.detail)
    assert expected == actual


def test_content_changed_after_signing_is_modified(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """An incremental update that rewrites the page after signing: modified."""
    result = verify(change_page_content(sign_as(pki.person, plain)), trust)
    s = result.signatures[0]
    expected = ("modified", False, True, True, True, "entire_revision")
    actual = (
        result.state.value,
        result.legal,
        s.intact,
        s.valid,
        s.modified_after,
        s.coverage,
    )
    assert expected == actual


def test_signer_under_an_untrusted_root_is_untrusted(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """A chain to a root the admin did not list is untrusted, even if embedded."""
    entity = pki.untrusted_person
    data = sign_as(entity, plain, chain=entity.chain, embed_chain=True)
    result = verify(data, trust)
    s = result.signatures[0]
    expected = (
        "untrusted",
        False,
        (True, True, False),
        "Chứng thư số không thuộc chuỗi tin cậy đã cấu hình (trust.pdf_roots) "
        "(NO_CERTIFICATE_CHAIN_FOUND).",
    )
    actual = (
        result.state.value,
        result.legal,
        (s.intact, s.valid, s.trusted),
        s.detail,
    )
    assert expected == actual


def test_certificate_expired_at_signing_is_untrusted(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """Signed after the certificate expired: untrusted, and the detail says why."""
    when = datetime.now(VN_TZ).replace(microsecond=0)
    result = verify(sign_as(pki.expired_person, plain, signing_time=when), trust)
    s = result.signatures[0]
    expected = (
        "untrusted",
        False,
        "Chứng thư số đã hết hạn hoặc chưa có hiệu lực vào thời điểm ký "
        f"({when.isoformat()}).",
    )
    actual = (result.state.value, s.cert_valid_at_signing, s.detail)
    assert expected == actual


def test_signed_while_valid_stays_valid_after_expiry(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """A document signed while the certificate was valid keeps its validity."""
    when = pki.expired_person.not_valid_after - timedelta(days=30)
    result = verify(sign_as(pki.expired_person, plain, signing_time=when), trust)
    expected = ("valid", True, True)
    actual = (
        result.state.value,
        result.legal,
        result.signatures[0].cert_valid_at_signing,
    )
    assert expected == actual


def test_unsigned_pdf_is_missing(trust: PdfTrust, plain: bytes) -> None:
    """No signature at all: missing, not legal, no error."""
    result = verify(plain, trust)
    expected = ("missing", False, (), None)
    actual = (result.state.value, result.legal, result.signatures, result.error)
    assert expected == actual


def test_unreadable_file_is_invalid_with_an_error(trust: PdfTrust) -> None:
    """Bytes that are not a PDF give an error and the invalid state."""
    result = verify(b"this is not a PDF", trust)
    expected = ("invalid", False, "not a readable PDF")
    actual = (result.state.value, result.legal, (result.error or "")[:18])
    assert expected == actual


@pytest.mark.parametrize("subfilter", ["adbe.pkcs7.detached", "ETSI.CAdES.detached"])
def test_local_time_written_as_utc_is_reported_and_still_valid(
    pki: TestPki, trust: PdfTrust, plain: bytes, subfilter: str
) -> None:
    """The 7-hour quirk is flagged, the time corrected, the signature stays valid."""
    when = datetime.now(VN_TZ).replace(microsecond=0) - timedelta(hours=1)
    data = sign_as(
        pki.person,
        plain,
        subfilter=subfilter,
        signing_time=when,
        quirk_local_time_as_utc=True,
    )
    s = verify(data, trust).signatures[0]
    expected = (
        "valid",
        True,
        when,
        VALID_DETAIL
        + " Thời gian ký được ghi bằng giờ Việt Nam nhưng đánh dấu là UTC (lệch 7 giờ).",
    )
    actual = (s.state.value, s.signing_time_quirk, s.signing_time, s.detail)
    assert expected == actual


def test_one_valid_signature_is_enough_for_legal(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """SPEC: one valid trusted signature makes it legal beside an untrusted one."""
    first = sign_as(pki.person, plain)
    both = sign_as(pki.untrusted_person, first, field_name="Signature2")
    result = verify(both, trust)
    expected = ("valid", True, ["valid", "untrusted"])
    actual = (
        result.state.value,
        result.legal,
        [s.state.value for s in result.signatures],
    )
    assert expected == actual


def test_modified_wins_over_a_valid_signature(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """A later non-signature change voids legality whatever else is valid."""
    first = sign_as(pki.person, plain)
    both = sign_as(pki.organisation, first, field_name="Signature2")
    result = verify(change_page_content(both), trust)
    expected = ("modified", False, ["modified", "modified"])
    actual = (
        result.state.value,
        result.legal,
        [s.state.value for s in result.signatures],
    )
    assert expected == actual


def test_revoked_certificate_from_offline_crl(
    pki: TestPki, plain: bytes, tmp_path: Path
) -> None:
    """An offline CRL revokes a certificate from its revocation date onwards."""
    revoked_at = datetime.now(UTC) - timedelta(days=1)
    write_crl(pki.party_ca, [pki.organisation], tmp_path, revoked_at=revoked_at)
    trust = PdfTrust.from_config(
        ["root.pem", "ca-*.pem"], base_dir=pki.dest, crl_dir=tmp_path
    )
    after = verify(sign_as(pki.organisation, plain), trust).signatures[0]
    earlier = revoked_at - timedelta(days=2)
    before = verify(sign_as(pki.organisation, plain, signing_time=earlier), trust)
    expected = ("untrusted", "Chứng thư số của người ký đã bị thu hồi.", "valid")
    actual = (after.state.value, after.detail, before.state.value)
    assert expected == actual


def test_trust_sorts_roots_from_intermediates(pki: TestPki, tmp_path: Path) -> None:
    """Self-signed certificates are roots; the others help build paths."""
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(b"".join(p.read_bytes() for p in pki.trust_pem_paths))
    trust = PdfTrust.from_config(["bundle.pem"], base_dir=tmp_path)
    expected = (1, 2, True)
    actual = (len(trust.roots), len(trust.intermediates), trust.ok)
    assert expected == actual


def test_trust_pattern_matching_nothing_is_a_config_error(tmp_path: Path) -> None:
    """A pdf_roots pattern that matches no file names the key in the error."""
    with pytest.raises(ConfigError) as caught:
        PdfTrust.from_config(["trust/*.pem"], base_dir=tmp_path)
    expected = ["trust.pdf_roots[0]"]
    actual = [issue.key for issue in caught.value.issues]
    assert expected == actual


def test_trust_file_without_certificate_is_a_config_error(pki: TestPki) -> None:
    """A key file matched by the pattern is refused, not silently skipped."""
    with pytest.raises(ConfigError) as caught:
        PdfTrust.from_config(["root.pem", "person.key"], base_dir=pki.dest)
    issue = caught.value.issues[0]
    expected = ("trust.pdf_roots[1]", f"{pki.person.key_path} holds no certificate")
    actual = (issue.key, issue.message)
    assert expected == actual


def test_empty_trust_store_trusts_nobody(pki: TestPki, plain: bytes) -> None:
    """With no roots configured every signature is untrusted, never valid."""
    trust = PdfTrust.from_config([], base_dir=pki.dest)
    result = verify(sign_as(pki.person, plain), trust)
    expected = (False, "untrusted")
    actual = (trust.ok, result.state.value)
    assert expected == actual


def test_states_are_signature_state_members(trust: PdfTrust, plain: bytes) -> None:
    """The document state is the shared SignatureState enum, not a bare string."""
    expected = SignatureState.MISSING
    actual = verify(plain, trust).state
    assert expected is actual


def test_lone_signing_time_hours_ahead_is_read_as_the_quirk(
    pki: TestPki, trust: PdfTrust, plain: bytes
) -> None:
    """PAdES carries /M only: a time 7 h ahead of the clock is local time as UTC."""
    now = datetime.now(UTC).replace(microsecond=0)
    data = sign_as(pki.person, plain, signing_time=now)
    checked_at = now - timedelta(hours=6)  # the mail arrives "before" it was signed
    result = asyncio.run(verify_pdf(data, "van-ban.pdf", trust, now=checked_at))
    s = result.signatures[0]
    expected = ("valid", True, now - timedelta(hours=7))
    actual = (s.state.value, s.signing_time_quirk, s.signing_time)
    assert expected == actual


def test_verification_as_json(pki: TestPki, trust: PdfTrust, plain: bytes) -> None:
    """The file-level JSON names the file, its hash, state, legality and signatures."""
    data = sign_as(pki.person, plain)
    shown = verify(data, trust).as_json()
    expected = ("van-ban.pdf", 64, "valid", True, None, ["valid"])
    actual = (
        shown["filename"],
        len(shown["sha256"]),
        shown["state"],
        shown["legal"],
        shown["error"],
        [s["state"] for s in shown["signatures"]],
    )
    assert expected == actual


def test_test_pki_has_the_government_shape(pki: TestPki) -> None:
    """Fictional G2 names marked (TEST), proper extensions, keys kept out of *.pem."""
    person = pki.person.certificate
    key_usage = person.extensions.get_extension_for_class(x509.KeyUsage).value
    authority = person.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    issuer_ski = pki.party_ca.certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier
    )
    constraints = pki.party_ca.certificate.extensions.get_extension_for_class(
        x509.BasicConstraints
    ).value
    expected = (
        "CN=RootCA chuyên dùng Chính phủ G2 (TEST),O=Ban Cơ yếu Chính phủ (TEST),C=VN",
        [
            "CA phục vụ các cơ quan Nhà nước G2 (TEST)",
            "CA phục vụ các cơ quan Đảng G2 (TEST)",
        ],
        (True, True, False),
        issuer_ski.value.digest,
        (True, 0),
        True,
        [
            "ca-dang.pem",
            "ca-nha-nuoc.pem",
            "expired.pem",
            "organisation.pem",
            "person.pem",
            "root.pem",
            "untrusted-person.pem",
            "untrusted-root.pem",
        ],
        True,
    )
    actual = (
        pki.root.certificate.subject.rfc4514_string(),
        [pki.state_ca.name, pki.party_ca.name],
        (
            key_usage.digital_signature,
            key_usage.content_commitment,
            key_usage.key_cert_sign,
        ),
        authority.value.key_identifier,
        (constraints.ca, constraints.path_length),
        pki.expired_person.not_valid_after < datetime.now(UTC),
        sorted(p.name for p in pki.dest.glob("*.pem")),
        pki.ok,
    )
    assert expected == actual


def test_crl_folder_with_a_stray_file_is_a_config_error(
    pki: TestPki, tmp_path: Path
) -> None:
    """Every file in trust.crl_dir must be a CRL; the error names the key."""
    (tmp_path / "notes.txt").write_text("không phải CRL", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        PdfTrust.from_config(["root.pem"], base_dir=pki.dest, crl_dir=tmp_path)
    expected = ["trust.crl_dir"]
    actual = [issue.key for issue in caught.value.issues]
    assert expected == actual
