"""Interoperability with OpenDKIM: each side verifies what the other signed.

OpenDKIM runs in its test mode (``opendkim -x CONF -t FILE``): the real filter
code signs or verifies one message file. Public keys reach it through
``TestPublicKeys``, a file of ``name record`` lines, so no DNS is involved.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from mailbridge.keys import GeneratedKey, generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.verify.dkim import verify_dkim
from mailbridge.verify.dns import StaticResolver

OPENDKIM = shutil.which("opendkim")
pytestmark = pytest.mark.skipif(
    OPENDKIM is None,
    reason="opendkim not found on PATH (Debian package opendkim, in /usr/sbin)",
)

DOMAIN = "phanrang.example.vn"
SELECTOR = "mb2026"


def opendkim(
    conf: Path, message: Path, *verbose: str
) -> subprocess.CompletedProcess[str]:
    """Run OpenDKIM's test mode on one message file; fail the test if it errs."""
    assert OPENDKIM is not None
    done = subprocess.run(
        [OPENDKIM, "-x", str(conf), "-t", str(message), *verbose],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"opendkim exited {done.returncode}: {done.stderr}")
    return done


def opendkim_verdict(tmp_path: Path, key: GeneratedKey, raw: bytes) -> str:
    """OpenDKIM's ``dkim=`` result for ``raw``, e.g. ``pass`` or ``fail``."""
    keys = tmp_path / "test-keys"
    keys.write_text(f"{key.dns_name} {key.txt_record}\n", encoding="ascii")
    conf = tmp_path / "verify.conf"
    conf.write_text(
        "Mode v\nSyslog no\nRequireSafeKeys no\nAuthservID bridge.test\n"
        f"TestPublicKeys {keys}\n",
        encoding="ascii",
    )
    message = tmp_path / "message.eml"
    message.write_bytes(raw)
    done = opendkim(conf, message, "-vv")
    for token in done.stdout.split():
        if token.startswith("dkim="):
            return token.removeprefix("dkim=")
    return "none"


def opendkim_sign(tmp_path: Path, key: GeneratedKey, raw: bytes, canon: str) -> bytes:
    """``raw`` with the DKIM-Signature header OpenDKIM made for it."""
    conf = tmp_path / "sign.conf"
    conf.write_text(
        f"Mode s\nSyslog no\nRequireSafeKeys no\nDomain {DOMAIN}\n"
        f"Selector {SELECTOR}\nKeyFile {key.private_key_file}\n"
        f"SignatureAlgorithm rsa-sha256\nCanonicalization {canon}\n",
        encoding="ascii",
    )
    message = tmp_path / "unsigned.eml"
    message.write_bytes(raw)
    done = opendkim(conf, message)
    # stdout: "opendkim: FILE:" then the header field, folded with CRLF
    _first, _, header = done.stdout.partition("\n")
    assert header.startswith("DKIM-Signature:"), done.stdout
    field = header.strip().replace("\r\n", "\n").replace("\n", "\r\n")
    return field.encode("ascii") + b"\r\n" + raw


@pytest.fixture(scope="module")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> GeneratedKey:
    return generate_dkim_key(
        tmp_path_factory.mktemp("odk"), domain=DOMAIN, selector=SELECTOR
    )


def mail() -> bytes:
    return to_bytes(document_mail(sender=f"vanthu@{DOMAIN}"))


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple"])
def test_opendkim_signed_mail_verifies(
    tmp_path: Path, rsa_key: GeneratedKey, canon: str
) -> None:
    """A mail signed by OpenDKIM passes verify_dkim, aligned."""
    raw = opendkim_sign(tmp_path, rsa_key, mail(), canon)
    result = asyncio.run(
        verify_dkim(raw, DOMAIN, StaticResolver({rsa_key.dns_name: rsa_key.txt_record}))
    )
    expected = ("pass", DOMAIN, True)
    actual = (result.result, result.domain, result.ok)
    assert expected == actual


def test_opendkim_signed_then_changed_fails(
    tmp_path: Path, rsa_key: GeneratedKey
) -> None:
    """A mail OpenDKIM signed, then changed, fails in verify_dkim."""
    raw = opendkim_sign(tmp_path, rsa_key, mail(), "relaxed/relaxed")
    changed = raw.replace(b"JVBERi0xLjQK", b"JVBERi0xLjUK", 1)
    result = asyncio.run(
        verify_dkim(
            changed, DOMAIN, StaticResolver({rsa_key.dns_name: rsa_key.txt_record})
        )
    )
    expected = "fail"
    actual = result.result
    assert expected == actual


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_our_signature_verifies_with_opendkim(tmp_path: Path, algorithm: str) -> None:
    """A mail signed by DkimSigner passes OpenDKIM, RSA and Ed25519."""
    key = generate_dkim_key(
        tmp_path / "key",
        domain=DOMAIN,
        selector=SELECTOR,
        algorithm="ed25519" if algorithm == "ed25519" else "rsa",
    )
    signer = DkimSigner.from_file(DOMAIN, SELECTOR, key.private_key_file)
    expected = "pass"
    actual = opendkim_verdict(tmp_path, key, signer.sign(mail()))
    assert expected == actual


def test_opendkim_rejects_our_signature_after_change(tmp_path: Path) -> None:
    """OpenDKIM really checks: our signature on a changed body fails there too."""
    key = generate_dkim_key(
        tmp_path / "key", domain=DOMAIN, selector=SELECTOR, algorithm="ed25519"
    )
    signed = DkimSigner.from_file(DOMAIN, SELECTOR, key.private_key_file).sign(mail())
    changed = signed.replace(b"JVBERi0xLjQK", b"JVBERi0xLjUK", 1)
    expected = "fail"
    actual = opendkim_verdict(tmp_path, key, changed)
    assert expected == actual
