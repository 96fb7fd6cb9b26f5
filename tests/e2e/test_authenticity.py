"""Every authenticity reason over SMTP against a running bridge (issue 3).

Origin (DKIM, PGP/MIME, unknown senders) and PDF signatures, each answered by a
``returned`` reply with its reason and a Vietnamese explanation, recorded in the
message register and never as a document. Also: the bridge's replies verify with
the real OpenDKIM filter, and the stored original carries Authentication-Results.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailbridge.clock import VN_TZ
from mailbridge.keys import generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.capture import CapturedMail, CaptureSmarthost
from mailbridge.sample.document import DocumentSpec, render_pdf
from mailbridge.sample.mail import (
    create_pgp_key,
    document_mail,
    import_public_key,
    pgp_signed_mail,
    stop_gpg_agent,
    to_bytes,
)
from mailbridge.sample.pki import PkiEntity
from mailbridge.sample.sandbox import AGENCY, BRIDGE_ADDRESS, Sandbox
from mailbridge.sample.sign import sign_pdf
from mailbridge.sample.tamper import (
    append_unsigned_update,
    change_body,
    change_signed_byte,
)

from .conftest import StartBridge, documents, messages, send, wait_messages

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENCY_DOMAIN = "phanrang.example.vn"
#: a domain whose DKIM signature verifies but does not align with the agency's From
RELAY_DOMAIN = "thuchung.example.com"
#: a sender that is not registered but whose DKIM passes
STRANGER = "vanthu@xaphuong.example.vn"
#: a sender that is neither registered nor DKIM-signed
NOBODY = "ai.do@khongro.example.org"
SUBJECT = "Công văn số 917-CV/VPTU về việc chuẩn bị hội nghị sơ kết"
BODY = "Kính gửi Văn phòng Tỉnh ủy,\n\nVăn thư gửi kèm công văn số 917-CV/VPTU.\n"
OPENDKIM = shutil.which("opendkim")

#: the first line of each reason's explanation (templates/reason/CODE.txt.j2)
WHY = {
    "DKIM_MISSING": "Lý do: thư không có chữ ký DKIM hợp lệ của tên miền gửi "
    f"{AGENCY_DOMAIN}",
    "DKIM_FAIL": "Lý do: chữ ký DKIM của thư không hợp lệ hoặc không khớp với tên "
    f"miền người gửi {AGENCY_DOMAIN}",
    "PGP_FAIL": "Lý do: chữ ký OpenPGP của thư không kiểm tra được",
    "UNSIGNED": "Lý do: văn bản PDF chưa được ký số",
    "SIGNATURE_INVALID": "Lý do: chữ ký số trên văn bản không hợp lệ",
    "SIGNATURE_UNTRUSTED": "Lý do: chữ ký số không xác minh được tới chứng thư gốc",
    "DOCUMENT_MODIFIED": "Lý do: văn bản đã bị thay đổi sau khi ký số",
    "UNKNOWN_SENDER": f"Lý do: địa chỉ gửi thư {STRANGER} chưa được đăng ký",
}
#: what the clerk is asked to do, per reason
TODO = {
    "DKIM_MISSING": f"bật ký DKIM cho tên miền {AGENCY_DOMAIN}",
    "DKIM_FAIL": "gửi lại thư trực tiếp từ hộp thư công vụ của cơ quan",
    "PGP_FAIL": "ký lại thư bằng khóa OpenPGP đã đăng ký",
    "UNSIGNED": "Đề nghị cơ quan ký số văn bản bằng chứng thư số chuyên dùng",
    "SIGNATURE_INVALID": "ký số lại văn bản từ bản gốc",
    "SIGNATURE_UNTRUSTED": "ký lại văn bản bằng chứng thư số chuyên dùng công vụ",
    "DOCUMENT_MODIFIED": "gửi lại đúng tệp đã ký",
    "UNKNOWN_SENDER": "gửi lại văn bản từ địa chỉ thư công vụ đã đăng ký",
}


# --- building mails -----------------------------------------------------------


def mail(
    pdf: bytes, message_id: str, *, sender: str = AGENCY["addresses"][0]
) -> EmailMessage:
    """A clerk's mail carrying ``pdf``, with a Message-ID the test can look up."""
    return document_mail(
        sender=sender,
        recipient=BRIDGE_ADDRESS,
        subject=SUBJECT,
        body=BODY,
        pdf=pdf,
        pdf_name="917-CV-VPTU.pdf",
        message_id=f"<{message_id}>",
    )


def dkim_mail(signer: DkimSigner, pdf: bytes, message_id: str, **kw: str) -> bytes:
    return signer.sign(to_bytes(mail(pdf, message_id, **kw)))


def unsigned_pdf() -> bytes:
    """The sample công văn, dated today, with no digital signature."""
    return render_pdf(DocumentSpec(date=datetime.now(VN_TZ).date()))


def signed_by(entity: PkiEntity, pdf: bytes, **options: Any) -> bytes:
    return sign_pdf(pdf, cert_pem=entity.cert_path, key_pem=entity.key_path, **options)


def dkim_key(box: Sandbox, domain: str, selector: str = "s2026") -> DkimSigner:
    """A new DKIM key for ``domain``, its record added to the bridge's static DNS."""
    key = generate_dkim_key(
        box.root / "other-keys" / domain, domain=domain, selector=selector
    )
    config = box.config()
    config["dns"]["static_records"][key.dns_name] = key.txt_record
    box.write_config(config)
    return DkimSigner.from_file(domain, selector, key.private_key_file)


def set_agency(box: Sandbox, **changes: Any) -> None:
    """Rewrite ``agencies.yaml`` with the sandbox agency, ``changes`` applied."""
    path = box.config_file.parent / "agencies.yaml"
    agency = {**AGENCY, **changes}
    path.write_text(yaml.safe_dump({"agencies": [agency]}, allow_unicode=True), "utf-8")


# --- reading what came back ---------------------------------------------------


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    content = body.get_content()
    assert isinstance(content, str)
    return content


def by_original(mails: list[CapturedMail]) -> dict[str, CapturedMail]:
    """The captured replies keyed by the Message-ID they answer (no brackets)."""
    return {str(m.message["In-Reply-To"]).strip("<>"): m for m in mails}


def json_facts(msg: EmailMessage) -> dict[str, Any]:
    """The reply's machine-readable part (status, reason, ids)."""
    for part in msg.walk():
        if part.get_content_type() == "application/json":
            content = part.get_content()
            loaded = json.loads(content)
            assert isinstance(loaded, dict)
            return loaded
    raise AssertionError("the reply has no JSON part")


def returned_view(reply: CapturedMail) -> dict[str, Any]:
    """What a clerk sees of a returned reply, for one comparison."""
    msg = reply.message
    text = text_of(msg)
    facts = json_facts(msg)
    reason = str(msg["X-Mailbridge-Reason"])
    return {
        "to": list(reply.rcpt_tos),
        "status": msg["X-Mailbridge-Status"],
        "reason": reason,
        "document_id": msg["X-Mailbridge-Document-Id"],
        "incoming_number": msg["X-Mailbridge-Incoming-Number"],
        "json": {k: facts[k] for k in ("status", "reason", "document_id")},
        "explains": WHY.get(reason, "?") in text,
        "asks": TODO.get(reason, "?") in text,
    }


def expected_returned(reason: str, to: str = AGENCY["addresses"][0]) -> dict[str, Any]:
    return {
        "to": [to],
        "status": "returned",
        "reason": reason,
        "document_id": None,
        "incoming_number": None,
        "json": {"status": "returned", "reason": reason, "document_id": None},
        "explains": True,
        "asks": True,
    }


def register_rows(box: Sandbox) -> dict[str, tuple[str, str | None]]:
    """``messages list --json`` as Message-ID -> (verdict, reason)."""
    return {
        str(m["message_id"]).strip("<>"): (m["verdict"], m["reason"])
        for m in messages(box)
    }


def wait_replies(
    smarthost: CaptureSmarthost, count: int, log: str = ""
) -> dict[str, CapturedMail]:
    mails = smarthost.wait_for(count, timeout=90)
    assert count == len(mails), log
    return by_original(mails)


@dataclass(frozen=True)
class PgpKeys:
    """The agency's registered key, another key, and the bridge's keyring."""

    agency_home: Path
    agency: str
    other_home: Path
    other: str
    keyring: Path


@pytest.fixture
def pgp_keys(tmp_path: Path) -> Iterator[PgpKeys]:
    homes = [tmp_path / "gpg-agency", tmp_path / "gpg-other", tmp_path / "keyring"]
    try:
        agency = create_pgp_key(
            homes[0], name="Van thu Phan Rang (TEST)", email=AGENCY["addresses"][0]
        )
        other = create_pgp_key(
            homes[1], name="Nguoi khac (TEST)", email="khac@example.vn"
        )
        import_public_key(homes[0], agency, homes[2])
        import_public_key(homes[1], other, homes[2])
        yield PgpKeys(homes[0], agency, homes[1], other, homes[2])
    finally:
        for home in homes:
            stop_gpg_agent(home)


# --- the tests ----------------------------------------------------------------


def test_dkim_missing_and_failing_are_returned(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    signed_pdf: bytes,
) -> None:
    """No DKIM, a body changed after signing, and an unaligned d=: returned, no document."""
    relay = dkim_key(sandbox, RELAY_DOMAIN)
    running = start_bridge()
    agency_mail = to_bytes(mail(signed_pdf, "no-dkim@phanrang.example.vn"))
    send(sandbox, agency_mail)
    signed = dkim_mail(sandbox.agency_signer, signed_pdf, "changed@phanrang.example.vn")
    send(sandbox, change_body(signed, b"917-CV/VPTU.", b"918-CV/VPTU."))
    send(sandbox, dkim_mail(relay, signed_pdf, "relayed@phanrang.example.vn"))

    replies = wait_replies(smarthost, 3, running.log_text())
    expected = {
        "no-dkim@phanrang.example.vn": expected_returned("DKIM_MISSING"),
        "changed@phanrang.example.vn": expected_returned("DKIM_FAIL"),
        "relayed@phanrang.example.vn": expected_returned("DKIM_FAIL"),
    }
    assert expected == {k: returned_view(v) for k, v in replies.items()}
    relayed = text_of(replies["relayed@phanrang.example.vn"].message)
    assert f"d={RELAY_DOMAIN} is not aligned with From" in relayed
    assert {
        "no-dkim@phanrang.example.vn": ("returned", "DKIM_MISSING"),
        "changed@phanrang.example.vn": ("returned", "DKIM_FAIL"),
        "relayed@phanrang.example.vn": ("returned", "DKIM_FAIL"),
    } == register_rows(sandbox)
    assert [] == documents(sandbox)
    assert 0 == running.stop(), running.log_text()


def test_pgp_mime_by_another_key_fails_and_by_the_registered_key_passes(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    signed_pdf: bytes,
    pgp_keys: PgpKeys,
) -> None:
    """PGP/MIME without DKIM: another key or a changed body is PGP_FAIL; the
    registered key is accepted."""
    config = sandbox.config()
    config["trust"]["pgp_keyring"] = str(pgp_keys.keyring)
    sandbox.write_config(config)
    set_agency(sandbox, pgp_fingerprints=[pgp_keys.agency])
    running = start_bridge()
    forged = mail(signed_pdf, "pgp-other@phanrang.example.vn")
    send(sandbox, pgp_signed_mail(pgp_keys.other_home, pgp_keys.other, forged))
    changed = pgp_signed_mail(
        pgp_keys.agency_home,
        pgp_keys.agency,
        mail(signed_pdf, "pgp-changed@phanrang.example.vn"),
    )
    send(sandbox, change_body(changed, b"917-CV/V", b"918-CV/V"))
    good = mail(signed_pdf, "pgp-good@phanrang.example.vn")
    raw = pgp_signed_mail(pgp_keys.agency_home, pgp_keys.agency, good)
    assert b"DKIM-Signature" not in raw
    send(sandbox, raw)

    replies = wait_replies(smarthost, 3, running.log_text())
    refused = replies["pgp-other@phanrang.example.vn"]
    assert expected_returned("PGP_FAIL") == returned_view(refused)
    assert "is not registered for this agency" in text_of(refused.message)
    broken = replies["pgp-changed@phanrang.example.vn"]
    assert expected_returned("PGP_FAIL") == returned_view(broken)
    assert "PGP signature not valid" in text_of(broken.message)
    accepted = replies["pgp-good@phanrang.example.vn"].message
    [doc] = documents(sandbox)
    assert ("accepted", "1", str(doc["id"]), None) == (
        accepted["X-Mailbridge-Status"],
        accepted["X-Mailbridge-Incoming-Number"],
        accepted["X-Mailbridge-Document-Id"],
        accepted["X-Mailbridge-Reason"],
    )
    assert ("pgp-good@phanrang.example.vn", 1, "legal") == (
        doc["message_id"],
        doc["incoming_number"],
        doc["legal_value"],
    )
    assert {
        "pgp-other@phanrang.example.vn": ("returned", "PGP_FAIL"),
        "pgp-changed@phanrang.example.vn": ("returned", "PGP_FAIL"),
        "pgp-good@phanrang.example.vn": ("accepted", None),
    } == register_rows(sandbox)
    assert 0 == running.stop(), running.log_text()


def test_bad_pdf_signatures_are_returned(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost: CaptureSmarthost
) -> None:
    """Broken hash, untrusted root, expired certificate, change after signing."""
    pki = sandbox.pki
    plain = unsigned_pdf()
    by_person = signed_by(pki.person, plain, chain=pki.person.chain)
    untrusted = pki.untrusted_person
    cases = {
        "invalid@phanrang.example.vn": change_signed_byte(by_person),
        "untrusted@phanrang.example.vn": signed_by(
            untrusted, plain, chain=untrusted.chain, embed_chain=True
        ),
        "expired@phanrang.example.vn": signed_by(
            pki.expired_person, plain, chain=pki.expired_person.chain
        ),
        "modified@phanrang.example.vn": append_unsigned_update(by_person),
    }
    running = start_bridge()
    for message_id, pdf in cases.items():
        send(sandbox, dkim_mail(sandbox.agency_signer, pdf, message_id))

    replies = wait_replies(smarthost, 4, running.log_text())
    reasons = {
        "invalid@phanrang.example.vn": "SIGNATURE_INVALID",
        "untrusted@phanrang.example.vn": "SIGNATURE_UNTRUSTED",
        "expired@phanrang.example.vn": "SIGNATURE_UNTRUSTED",
        "modified@phanrang.example.vn": "DOCUMENT_MODIFIED",
    }
    assert {k: expected_returned(v) for k, v in reasons.items()} == {
        k: returned_view(v) for k, v in replies.items()
    }
    expired = text_of(replies["expired@phanrang.example.vn"].message)
    assert "Chứng thư số đã hết hạn hoặc chưa có hiệu lực" in expired
    assert {k: ("returned", v) for k, v in reasons.items()} == register_rows(sandbox)
    assert [] == documents(sandbox)
    assert 0 == running.stop(), running.log_text()


def test_unsigned_document_is_returned_when_policy_rejects(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost: CaptureSmarthost
) -> None:
    """``policy.unsigned_documents: reject``: an unsigned PDF is returned UNSIGNED."""
    config = sandbox.config()
    config["policy"]["unsigned_documents"] = "reject"
    sandbox.write_config(config)
    running = start_bridge()
    message_id = "unsigned@phanrang.example.vn"
    send(sandbox, dkim_mail(sandbox.agency_signer, unsigned_pdf(), message_id))

    replies = wait_replies(smarthost, 1, running.log_text())
    assert {message_id: expected_returned("UNSIGNED")} == {
        k: returned_view(v) for k, v in replies.items()
    }
    assert {message_id: ("returned", "UNSIGNED")} == register_rows(sandbox)
    assert [] == documents(sandbox)
    assert 0 == running.stop(), running.log_text()


def opendkim_verdict(tmp_path: Path, records: dict[str, str], raw: bytes) -> str:
    """OpenDKIM's ``dkim=`` result for ``raw`` in test mode (keys from a file, no DNS)."""
    assert OPENDKIM is not None
    keys = tmp_path / "test-keys"
    keys.write_text(
        "".join(f"{name} {record}\n" for name, record in records.items()), "ascii"
    )
    conf = tmp_path / "opendkim.conf"
    conf.write_text(
        "Mode v\nSyslog no\nRequireSafeKeys no\nAuthservID test.example.vn\n"
        f"TestPublicKeys {keys}\n",
        "ascii",
    )
    message = tmp_path / "reply.eml"
    message.write_bytes(raw)
    done = subprocess.run(
        [OPENDKIM, "-x", str(conf), "-t", str(message), "-vv"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    tokens = [t for t in done.stdout.split() if t.startswith("dkim=")]
    return tokens[0].removeprefix("dkim=") if tokens else "none"


@pytest.mark.skipif(OPENDKIM is None, reason="opendkim not found on PATH")
def test_unsigned_is_reference_by_default_and_replies_pass_opendkim(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    tmp_path: Path,
) -> None:
    """Default policy: unsigned PDF accepted as reference; replies pass OpenDKIM; the
    stored original starts with Authentication-Results naming dkim=pass."""
    running = start_bridge()
    send(
        sandbox,
        dkim_mail(sandbox.agency_signer, unsigned_pdf(), "ref@phanrang.example.vn"),
    )
    send(sandbox, to_bytes(mail(unsigned_pdf(), "plain@phanrang.example.vn")))

    replies = wait_replies(smarthost, 2, running.log_text())
    accepted = replies["ref@phanrang.example.vn"].message
    returned = replies["plain@phanrang.example.vn"]
    assert ("accepted", "1") == (
        accepted["X-Mailbridge-Status"],
        accepted["X-Mailbridge-Incoming-Number"],
    )
    assert expected_returned("DKIM_MISSING") == returned_view(returned)
    [doc] = documents(sandbox)
    assert ("ref@phanrang.example.vn", "accepted", "reference", []) == (
        doc["message_id"],
        doc["status"],
        doc["legal_value"],
        doc["signatures"],
    )
    verdicts: dict[str, str] = {}
    for name, reply in replies.items():
        folder = tmp_path / name.split("@")[0]
        folder.mkdir()
        verdicts[name] = opendkim_verdict(folder, sandbox.dns_records, reply.raw)
    assert dict.fromkeys(replies, "pass") == verdicts

    [original] = [f for f in doc["files"] if f["name"] == "original.eml"]
    sha = original["sha256"]
    stored = (sandbox.data_dir / "files" / sha[:2] / sha[2:4] / sha).read_bytes()
    first = stored.split(b"\r\n", 1)[0].decode("utf-8")
    assert first.startswith("Authentication-Results: bridge.example.vn; dkim=pass")
    assert f"header.d={AGENCY_DOMAIN}" in first
    assert 0 == running.stop(), running.log_text()


def test_unknown_senders_reply_only_when_dkim_passes(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    signed_pdf: bytes,
) -> None:
    """Not registered: with passing DKIM a UNKNOWN_SENDER reply; without, no reply."""
    stranger = dkim_key(sandbox, STRANGER.split("@")[1])
    running = start_bridge()
    nobody = to_bytes(mail(signed_pdf, "nobody@khongro.example.org", sender=NOBODY))
    send(sandbox, nobody, sender=NOBODY)
    control = dkim_mail(
        stranger, signed_pdf, "stranger@xaphuong.example.vn", sender=STRANGER
    )
    send(sandbox, control, sender=STRANGER)

    rows = wait_messages(sandbox, 2, timeout=90)
    assert 2 == len(rows), running.log_text()
    replies = wait_replies(smarthost, 1, running.log_text())
    time.sleep(1.0)  # a reply to the first, if any, would have been queued before
    assert 1 == len(smarthost.mails)
    assert {
        "stranger@xaphuong.example.vn": expected_returned("UNKNOWN_SENDER", STRANGER)
    } == {k: returned_view(v) for k, v in replies.items()}
    assert {
        "nobody@khongro.example.org": ("ignored", "UNKNOWN_SENDER"),
        "stranger@xaphuong.example.vn": ("returned", "UNKNOWN_SENDER"),
    } == register_rows(sandbox)
    assert [] == documents(sandbox)
    assert 0 == running.stop(), running.log_text()
