"""PGP/MIME (RFC 3156) verification and signing, with real gpg and throwaway homes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from mailbridge.message import parse_message
from mailbridge.sample.mail import (
    create_pgp_key,
    document_mail,
    import_public_key,
    pgp_signed_mail,
    stop_gpg_agent,
    to_bytes,
)
from mailbridge.verify.pgp import PgpResult, sign_pgp_mime, verify_pgp_mime


@dataclass(frozen=True)
class Keys:
    """An agency's signing home, a stranger's, and the bridge's keyring."""

    agency_home: Path
    agency: str
    other_home: Path
    other: str
    unknown_home: Path
    unknown: str
    keyring: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keys]:
    base = tmp_path_factory.mktemp("gpg")
    homes = [base / "agency", base / "other", base / "unknown", base / "ring"]
    try:
        agency = create_pgp_key(
            homes[0], name="Van thu Phan Rang", email="vanthu@phanrang.example.vn"
        )
        other = create_pgp_key(homes[1], name="Other", email="other@example.vn")
        unknown = create_pgp_key(homes[2], name="Unknown", email="x@example.vn")
        import_public_key(homes[0], agency, homes[3])
        import_public_key(homes[1], other, homes[3])
        yield Keys(homes[0], agency, homes[1], other, homes[2], unknown, homes[3])
    finally:
        for home in homes:
            stop_gpg_agent(home)


def check(raw: bytes, keys: Keys, fingerprints: list[str] | None = None) -> PgpResult:
    return verify_pgp_mime(
        parse_message(raw),
        keyring=keys.keyring,
        fingerprints=[keys.agency] if fingerprints is None else fingerprints,
    )


def test_registered_key_passes(keys: Keys) -> None:
    """Signed by the agency's registered key: present, valid, matched."""
    result = check(pgp_signed_mail(keys.agency_home, keys.agency), keys)
    expected = (True, True, True, keys.agency, True)
    actual = (
        result.present,
        result.valid,
        result.matched,
        result.fingerprint,
        result.ok,
    )
    assert expected == actual


def test_fingerprint_spacing_and_case_do_not_matter(keys: Keys) -> None:
    """A fingerprint written in lower case with spaces still matches."""
    spaced = " ".join(keys.agency[i : i + 4] for i in range(0, 40, 4)).lower()
    expected = True
    actual = check(pgp_signed_mail(keys.agency_home, keys.agency), keys, [spaced]).ok
    assert expected == actual


def test_other_key_is_not_matched(keys: Keys) -> None:
    """A good signature by a key that is not the agency's: not matched, not ok."""
    result = check(pgp_signed_mail(keys.other_home, keys.other), keys)
    expected = (True, True, False, keys.other, False)
    actual = (
        result.present,
        result.valid,
        result.matched,
        result.fingerprint,
        result.ok,
    )
    assert expected == actual


def test_key_missing_from_keyring_is_not_valid(keys: Keys) -> None:
    """A signature by a key the keyring lacks: present, not valid, says why."""
    result = check(pgp_signed_mail(keys.unknown_home, keys.unknown), keys)
    expected = (True, False, False, True)
    actual = (
        result.present,
        result.valid,
        result.ok,
        result.detail.startswith("PGP signature not valid: no public key"),
    )
    assert expected == actual


def test_tampered_body_is_not_valid(keys: Keys) -> None:
    """One byte of the PDF changed after signing: the signature is bad."""
    raw = pgp_signed_mail(keys.agency_home, keys.agency)
    tampered = raw.replace(b"JVBERi0xLjQK", b"JVBERi0xLjUK", 1)
    result = check(tampered, keys)
    expected = (True, False, False, "PGP signature not valid: signature bad")
    actual = (result.present, result.valid, result.ok, result.detail)
    assert expected == actual


def test_unsigned_mail_is_not_present(keys: Keys) -> None:
    """A plain mail: present False (the pipeline then relies on DKIM)."""
    result = check(to_bytes(document_mail()), keys)
    expected = (False, False, "not a PGP/MIME signed message")
    actual = (result.present, result.ok, result.detail)
    assert expected == actual


def test_no_keyring_configured(keys: Keys) -> None:
    """Signed, but trust.pgp_keyring is not set: present, not ok, says so."""
    raw = pgp_signed_mail(keys.agency_home, keys.agency)
    result = verify_pgp_mime(
        parse_message(raw), keyring=None, fingerprints=[keys.agency]
    )
    expected = (True, False, "no PGP keyring is configured (trust.pgp_keyring)")
    actual = (result.present, result.ok, result.detail)
    assert expected == actual


def test_signed_message_object_verifies_directly(keys: Keys) -> None:
    """sign_pgp_mime's EmailMessage verifies as an object and after the wire."""
    signed = sign_pgp_mime(
        document_mail(), gnupg_home=keys.agency_home, key=keys.agency
    )
    as_object = verify_pgp_mime(
        signed, keyring=keys.keyring, fingerprints=[keys.agency]
    )
    wire = check(to_bytes(signed), keys)
    expected = (True, True, "multipart/signed", "application/pgp-signature")
    actual = (
        as_object.ok,
        wire.ok,
        signed.get_content_type(),
        signed.get_param("protocol"),
    )
    assert expected == actual


def test_eight_bit_text_is_made_seven_bit(keys: Keys) -> None:
    """An 8bit Vietnamese body is re-encoded before signing and still verifies."""
    msg = EmailMessage()
    msg["From"] = "vanthu@bridge.example.vn"
    msg["To"] = "vanthu@phanrang.example.vn"
    msg["Subject"] = "Đã tiếp nhận"
    msg.set_content("Văn bản đã được tiếp nhận, số đến 17.\n", cte="8bit")
    raw = pgp_signed_mail(keys.agency_home, keys.agency, msg)
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    parts = parsed.get_payload()
    assert isinstance(parts, list)
    inner = parts[0]
    assert isinstance(inner, EmailMessage)
    expected = (True, "quoted-printable", ["Văn bản đã được tiếp nhận, số đến 17."])
    actual = (
        check(raw, keys).ok,
        inner["Content-Transfer-Encoding"],
        inner.get_content().splitlines(),
    )
    assert expected == actual


def test_lf_line_ends_still_verify(keys: Keys) -> None:
    """A stored copy with LF line ends verifies: the check uses CRLF canonical form."""
    raw = pgp_signed_mail(keys.agency_home, keys.agency).replace(b"\r\n", b"\n")
    expected = True
    actual = check(raw, keys).ok
    assert expected == actual
