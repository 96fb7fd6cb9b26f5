"""DKIM signing of outgoing mail: what is signed, and what breaks the signature."""

from __future__ import annotations

import asyncio
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from dkim.util import parse_tag_value

from mailbridge.config.schema import DkimKeyConfig
from mailbridge.errors import ConfigError
from mailbridge.keys import GeneratedKey, generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.verify.dkim import DkimResult, verify_dkim
from mailbridge.verify.dns import StaticResolver

DOMAIN = "bridge.example.vn"
SELECTOR = "mb2026"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GeneratedKey]:
    folder = tmp_path_factory.mktemp("sign-keys")
    return {
        alg: generate_dkim_key(
            folder / alg, domain=DOMAIN, selector=SELECTOR, algorithm=alg
        )
        for alg in ("rsa", "ed25519")
    }


def reply() -> EmailMessage:
    """A reply as the bridge sends it, with the SPEC section 6 headers."""
    msg = document_mail(
        sender=f"vanthu@{DOMAIN}",
        recipient="vanthu@phanrang.example.vn",
        subject="Re: Công văn số 123/UBND-VP — đã tiếp nhận",
    )
    msg["In-Reply-To"] = "<abc@phanrang.example.vn>"
    msg["References"] = "<abc@phanrang.example.vn>"
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Mailbridge-Status"] = "accepted"
    msg["X-Mailbridge-Incoming-Number"] = "17"
    msg["Received"] = "from somewhere by somewhere"
    return msg


def verify(raw: bytes, key: GeneratedKey) -> DkimResult:
    resolver = StaticResolver({key.dns_name: key.txt_record})
    return asyncio.run(verify_dkim(raw, DOMAIN, resolver))


def signed_headers(raw: bytes) -> list[str]:
    first = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    field = first.split("DKIM-Signature:", 1)[1].split("\r\nFrom:", 1)[0]
    tags = parse_tag_value(field.replace("\r\n", "").encode("ascii"))
    return [h.strip() for h in tags[b"h"].decode("ascii").split(":")]


@pytest.mark.parametrize(
    ("alg", "algorithm"), [("rsa", "rsa-sha256"), ("ed25519", "ed25519-sha256")]
)
def test_from_file_detects_key_type(
    keys: dict[str, GeneratedKey], alg: str, algorithm: str
) -> None:
    """The PEM decides the algorithm: RSA or Ed25519."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys[alg].private_key_file)
    expected = (algorithm, True)
    actual = (signer.algorithm, signer.ok)
    assert expected == actual


def test_signed_headers(keys: dict[str, GeneratedKey]) -> None:
    """h= lists the SPEC headers and every X-Mailbridge-* header, never Received."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys["rsa"].private_key_file)
    raw = signer.sign(to_bytes(reply()))
    expected = [
        "from",
        "from",
        "to",
        "to",
        "subject",
        "subject",
        "date",
        "date",
        "message-id",
        "message-id",
        "in-reply-to",
        "references",
        "auto-submitted",
        "mime-version",
        "content-type",
        "x-mailbridge-incoming-number",
        "x-mailbridge-status",
    ]
    assert expected == signed_headers(raw)


def test_relaxed_relaxed(keys: dict[str, GeneratedKey]) -> None:
    """The signature says c=relaxed/relaxed and survives refolded headers."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys["rsa"].private_key_file)
    raw = signer.sign(to_bytes(reply()))
    refolded = raw.replace(
        b"Auto-Submitted: auto-replied", b"Auto-Submitted:   auto-replied"
    )
    expected = (True, "pass")
    actual = (b"c=relaxed/relaxed" in raw, verify(refolded, keys["rsa"]).result)
    assert expected == actual


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Mailbridge-Status", "returned"),
        ("Subject", "Công văn giả"),
        ("From", "attacker@example.vn"),
    ],
)
def test_added_or_changed_header_breaks_signature(
    keys: dict[str, GeneratedKey], header: str, value: str
) -> None:
    """Another From or Subject, or a changed status, makes verification fail."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys["ed25519"].private_key_file)
    raw = signer.sign(to_bytes(reply()))
    extra = EmailMessage()
    extra[header] = value
    added = extra.as_bytes().split(b"\n\n", 1)[0].replace(b"\n", b"\r\n") + b"\r\n"
    if header == "X-Mailbridge-Status":
        tampered = raw.replace(b"X-Mailbridge-Status: accepted", added.strip(), 1)
    else:
        head, body = raw.split(b"\r\n\r\n", 1)
        tampered = head + b"\r\n" + added + b"\r\n" + body
    expected = ("pass", "fail")
    actual = (
        verify(raw, keys["ed25519"]).result,
        verify(tampered, keys["ed25519"]).result,
    )
    assert expected == actual


def test_unsigned_header_may_change(keys: dict[str, GeneratedKey]) -> None:
    """A relay adding Received does not break the signature."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys["rsa"].private_key_file)
    raw = b"Received: from relay by mx\r\n" + signer.sign(to_bytes(reply()))
    expected = "pass"
    actual = verify(raw, keys["rsa"]).result
    assert expected == actual


def test_lf_only_message(keys: dict[str, GeneratedKey]) -> None:
    """A message with LF line ends is signed with an LF-folded header and verifies."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys["rsa"].private_key_file)
    raw = signer.sign(reply().as_bytes(policy=policy.default))
    expected = (False, "pass")
    actual = (b"\r\n" in raw, verify(raw, keys["rsa"]).result)
    assert expected == actual


def test_unreadable_key_is_config_error(tmp_path: Path) -> None:
    """A key file that is not a key: ConfigError naming the file and the key."""
    bad = tmp_path / "dkim.pem"
    bad.write_text("not a key\n")
    with pytest.raises(ConfigError) as caught:
        DkimSigner.from_file(DOMAIN, SELECTOR, bad)
    issue = caught.value.issues[0]
    expected = (str(bad), "outbound.dkim.private_key_file")
    actual = (issue.file, issue.key)
    assert expected == actual


def test_missing_key_is_config_error(tmp_path: Path) -> None:
    """A key file that does not exist: ConfigError saying it cannot be read."""
    with pytest.raises(ConfigError) as caught:
        DkimSigner.from_file(DOMAIN, SELECTOR, tmp_path / "absent.pem")
    assert "cannot read the DKIM key" in caught.value.issues[0].message


def test_key_not_in_repr(keys: dict[str, GeneratedKey]) -> None:
    """The private key never shows in a repr (logs, tracebacks)."""
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, keys["rsa"].private_key_file)
    expected = False
    actual = "PRIVATE KEY" in repr(signer)
    assert expected == actual


def test_from_config(keys: dict[str, GeneratedKey]) -> None:
    """outbound.dkim from mailbridge.yaml builds the same signer as from_file."""
    config = DkimKeyConfig(
        domain=DOMAIN, selector=SELECTOR, private_key_file=keys["rsa"].private_key_file
    )
    expected = DkimSigner.from_file(DOMAIN, SELECTOR, keys["rsa"].private_key_file)
    assert expected == DkimSigner.from_config(config)
