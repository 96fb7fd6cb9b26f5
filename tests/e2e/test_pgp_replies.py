"""PGP/MIME-signed replies: with ``outbound.pgp_home``/``pgp_key`` every answer is signed.

The bridge's key lives in a temporary GnuPG home and is protected by a passphrase
given through ``outbound.pgp_passphrase_env``. A receiving office verifies the
captured reply with the bridge's public key only (a keyring of its own), and the
DKIM signature added at send time still verifies on top.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import gnupg
import pytest

from mailbridge.message import parse_message
from mailbridge.sample.capture import CapturedMail, CaptureSmarthost
from mailbridge.sample.mail import (
    document_mail,
    import_public_key,
    stop_gpg_agent,
    to_bytes,
)
from mailbridge.sample.sandbox import Sandbox
from mailbridge.verify.dkim import verify_dkim
from mailbridge.verify.dns import StaticResolver
from mailbridge.verify.pgp import PgpResult, verify_pgp_mime

from .conftest import RunningBridge, StartBridge, cli, documents, send

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSPHRASE_ENV = "MAILBRIDGE_TEST_PGP_PASSPHRASE"
PASSPHRASE = "mat-khau-ky-thu-tra-loi"


@dataclass(frozen=True)
class BridgeKey:
    home: Path  # the bridge's GnuPG home (secret key)
    fingerprint: str
    keyring: Path  # a receiving office's keyring (the public key only)


@pytest.fixture(scope="module")
def bridge_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeKey]:
    """A passphrase-protected Ed25519 signing key for the bridge, and its public key."""
    base = tmp_path_factory.mktemp("gpg")
    home, keyring = base / "bridge", base / "office"
    home.mkdir(mode=0o700)
    try:
        gpg = gnupg.GPG(gnupghome=str(home))
        spec = gpg.gen_key_input(
            key_type="EDDSA",
            key_curve="ed25519",
            key_usage="sign",
            name_real="Cong thu cong vu (TEST)",
            name_email="vanthu@bridge.example.vn",
            expire_date="0",
            passphrase=PASSPHRASE,
        )
        created = gpg.gen_key(spec)
        assert created.fingerprint, created.stderr
        fingerprint = str(created.fingerprint)
        import_public_key(home, fingerprint, keyring)
        yield BridgeKey(home, fingerprint, keyring)
    finally:
        stop_gpg_agent(home)
        stop_gpg_agent(keyring)


def document(sandbox: Sandbox, pdf: bytes, message_id: str) -> bytes:
    msg = document_mail(
        sender=sandbox.agency_address,
        recipient=sandbox.bridge_address,
        subject="Công văn số 917-CV/VPTU về việc chuẩn bị hội nghị sơ kết",
        pdf=pdf,
        pdf_name="917-CV-VPTU.pdf",
        message_id=message_id,
    )
    return sandbox.agency_signer.sign(to_bytes(msg))


def pgp_check(mail: CapturedMail, key: BridgeKey) -> PgpResult:
    return verify_pgp_mime(
        parse_message(mail.raw), keyring=key.keyring, fingerprints=[key.fingerprint]
    )


def dkim_ok(sandbox: Sandbox, mail: CapturedMail) -> bool:
    result = asyncio.run(
        verify_dkim(mail.raw, "bridge.example.vn", StaticResolver(sandbox.dns_records))
    )
    return result.ok


def inner_types(msg: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in msg.walk()]


def plain_text(msg: EmailMessage) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            assert isinstance(part, EmailMessage)
            text = part.get_content()
            assert isinstance(text, str)
            return text
    raise AssertionError("no text/plain part")


def test_replies_and_notices_are_pgp_signed(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    bridge_key: BridgeKey,
    signed_pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The verdict reply and a later notice verify with the bridge key, DKIM on top."""
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    config = sandbox.config()
    config["outbound"] = {
        **config["outbound"],
        "pgp_home": str(bridge_key.home),
        "pgp_key": bridge_key.fingerprint,
        "pgp_passphrase_env": PASSPHRASE_ENV,
    }
    sandbox.write_config(config)
    running = start_bridge()
    send(sandbox, document(sandbox, signed_pdf, "<pgp-1@phanrang.example.vn>"))
    [mail] = smarthost.wait_for(1, timeout=60)
    reply = mail.message
    assert "multipart/signed" == reply.get_content_type(), running.log_text()
    assert "application/pgp-signature" == reply.get_param("protocol")
    assert ("accepted", "1", "<pgp-1@phanrang.example.vn>") == (
        reply["X-Mailbridge-Status"],
        reply["X-Mailbridge-Incoming-Number"],
        reply["In-Reply-To"],
    )
    check = pgp_check(mail, bridge_key)
    assert (True, bridge_key.fingerprint) == (check.ok, check.fingerprint)
    assert dkim_ok(sandbox, mail)
    assert [
        "multipart/signed",
        "multipart/mixed",
        "text/plain",
        "application/json",
        "application/pgp-signature",
    ] == inner_types(reply)
    assert "Đã tiếp nhận" in plain_text(reply)

    [doc] = documents(sandbox)
    cli(sandbox, "documents", "set-status", str(doc["id"]), "forwarded")
    mails = smarthost.wait_for(2, timeout=60)
    assert 2 == len(mails), running.log_text()
    notice = mails[1]
    assert ("multipart/signed", "forwarded") == (
        notice.message.get_content_type(),
        notice.message["X-Mailbridge-Status"],
    )
    check = pgp_check(notice, bridge_key)
    assert (True, bridge_key.fingerprint) == (check.ok, check.fingerprint)
    assert dkim_ok(sandbox, notice)
    assert 0 == running.stop(), running.log_text()


def test_replies_are_not_pgp_signed_without_a_key(
    bridge: RunningBridge,
    smarthost: CaptureSmarthost,
    bridge_key: BridgeKey,
    signed_pdf: bytes,
) -> None:
    """Without outbound.pgp_home/pgp_key the reply is plain multipart/mixed."""
    box = bridge.sandbox
    send(box, document(box, signed_pdf, "<plain-1@phanrang.example.vn>"))
    [mail] = smarthost.wait_for(1, timeout=60)
    assert ("multipart/mixed", "accepted") == (
        mail.message.get_content_type(),
        mail.message["X-Mailbridge-Status"],
    )
    check = pgp_check(mail, bridge_key)
    assert (False, "not a PGP/MIME signed message") == (check.present, check.detail)
    assert dkim_ok(box, mail)


def test_a_reply_gpg_cannot_sign_waits_and_is_never_sent_unsigned(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    bridge_key: BridgeKey,
    signed_pdf: bytes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Wrong passphrase: delayed, nothing registered or sent; right one: signed reply."""
    stop_gpg_agent(bridge_key.home)  # the agent would remember the right passphrase
    monkeypatch.setenv(PASSPHRASE_ENV, "not-the-passphrase")
    config = sandbox.config()
    config["outbound"] = {
        **config["outbound"],
        "pgp_home": str(bridge_key.home),
        "pgp_key": bridge_key.fingerprint,
        "pgp_passphrase_env": PASSPHRASE_ENV,
    }
    sandbox.write_config(config)
    failing = start_bridge()
    send(sandbox, document(sandbox, signed_pdf, "<pgp-wait@phanrang.example.vn>"))
    assert failing.wait_log(" delayed 1 s: cannot PGP-sign the answer with key ", 30), (
        failing.log_text()
    )
    assert ([], []) == (smarthost.mails, documents(sandbox))
    assert 0 == failing.stop(), failing.log_text()

    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    running = start_bridge()
    [mail] = smarthost.wait_for(1, timeout=60)
    time.sleep(1.5)  # a second answer, if any, would follow within a retry period
    assert 1 == len(smarthost.mails), running.log_text()
    assert ("multipart/signed", "accepted", "1") == (
        mail.message.get_content_type(),
        mail.message["X-Mailbridge-Status"],
        mail.message["X-Mailbridge-Incoming-Number"],
    )
    assert pgp_check(mail, bridge_key).ok
    assert 1 == len(documents(sandbox))
    assert 0 == running.stop(), running.log_text()
