"""The whole path over real sockets: SMTP in, spool, register, reply out (issue 2)."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import smtplib
import subprocess
import time
import unicodedata
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.sample.sandbox import Sandbox
from mailbridge.verify.dkim import verify_dkim
from mailbridge.verify.dns import StaticResolver

from .conftest import (
    RunningBridge,
    StartBridge,
    cli,
    documents,
    messages,
    send,
    wait_messages,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SUBJECT = "Công văn số 917-CV/VPTU về việc chuẩn bị hội nghị sơ kết"


def signed_mail(
    sandbox: Sandbox,
    pdf: bytes,
    *,
    subject: str = SUBJECT,
    message_id: str | None = None,
) -> bytes:
    msg = document_mail(
        sender=sandbox.agency_address,
        recipient=sandbox.bridge_address,
        subject=subject,
        pdf=pdf,
        pdf_name="917-CV-VPTU.pdf",
        message_id=message_id,
    )
    return sandbox.agency_signer.sign(to_bytes(msg))


def json_part(msg: EmailMessage) -> dict:
    for part in msg.walk():
        if part.get_content_type() == "application/json":
            return json.loads(part.get_content())
    raise AssertionError("the reply has no JSON part")


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def test_document_over_smtplib_is_registered_and_answered(
    bridge: RunningBridge, smarthost, signed_pdf
) -> None:
    """A signed document sent with smtplib is numbered 1 and answered with every SPEC header."""
    box = bridge.sandbox
    raw = signed_mail(box, signed_pdf, message_id="<cv917@phanrang.example.vn>")
    send(box, raw)
    mails = smarthost.wait_for(1, timeout=60)
    assert 1 == len(mails), bridge.log_text()
    reply = mails[0].message
    assert [box.agency_address] == list(mails[0].rcpt_tos)
    assert "auto-replied" == reply["Auto-Submitted"]
    assert "<cv917@phanrang.example.vn>" == reply["In-Reply-To"]
    assert "<cv917@phanrang.example.vn>" == reply["References"]
    assert "accepted" == reply["X-Mailbridge-Status"]
    assert "1" == reply["X-Mailbridge-Incoming-Number"]
    assert reply["X-Mailbridge-Duplicate"] is None
    assert reply["X-Mailbridge-Reason"] is None
    assert "Đã tiếp nhận" in text_of(reply)
    facts = json_part(reply)
    assert ("accepted", 1) == (facts["status"], facts["incoming_number"])
    dkim = asyncio.run(
        verify_dkim(mails[0].raw, "bridge.example.vn", StaticResolver(box.dns_records))
    )
    assert (True, "bridge.example.vn") == (dkim.ok, dkim.domain)

    [doc] = documents(box)
    assert str(doc["id"]) == reply["X-Mailbridge-Document-Id"]
    assert {
        "incoming_number": 1,
        "status": "accepted",
        "status_label": "Đã tiếp nhận",
        "agency_code": "A32.01.07",
        "sender": box.agency_address,
        "recipient": box.bridge_address,
        "message_id": "cv917@phanrang.example.vn",
        "subject": SUBJECT,
        "number_symbol": "917-CV/VPTU",
        "document_type": "CV",
        "legal_value": "legal",
    } == {
        k: doc[k]
        for k in (
            "incoming_number",
            "status",
            "status_label",
            "agency_code",
            "sender",
            "recipient",
            "message_id",
            "subject",
            "number_symbol",
            "document_type",
            "legal_value",
        )
    }
    assert ["valid", "valid"] == [s["state"] for s in doc["signatures"]]
    assert doc["received_at"].endswith("+07:00")
    assert ["arrived", "accepted"] == [h["status"] for h in doc["history"]]
    assert "pass" == doc["dkim"]["result"]


def test_document_over_swaks(
    bridge: RunningBridge, smarthost, signed_pdf, tmp_path
) -> None:
    """swaks, an independent SMTP client, delivers a document that gets number 1."""
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.skip("swaks is not installed (scripts/install-deps installs it)")
    box = bridge.sandbox
    eml = tmp_path / "doc.eml"
    eml.write_bytes(
        signed_mail(box, signed_pdf, message_id="<swaks1@phanrang.example.vn>")
    )
    out = subprocess.run(
        [
            swaks,
            "--server",
            f"127.0.0.1:{box.smtp_port}",
            "--from",
            box.agency_address,
            "--to",
            box.bridge_address,
            "--data",
            str(eml),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert 0 == out.returncode, out.stdout + out.stderr
    assert "250 2.0.0 OK: queued as" in out.stdout
    mails = smarthost.wait_for(1, timeout=60)
    assert ["accepted"] == [m.message["X-Mailbridge-Status"] for m in mails]
    [doc] = documents(box)
    assert (1, "swaks1@phanrang.example.vn") == (
        doc["incoming_number"],
        doc["message_id"],
    )


def test_duplicates_are_answered_but_registered_once(
    bridge: RunningBridge, smarthost, signed_pdf
) -> None:
    """Same Message-ID again, and the same PDF under another Message-ID: same number, Duplicate: yes."""
    box = bridge.sandbox
    first = signed_mail(box, signed_pdf, message_id="<dup-1@phanrang.example.vn>")
    send(box, first)
    smarthost.wait_for(1, timeout=60)
    send(box, first)
    send(box, signed_mail(box, signed_pdf, message_id="<dup-2@phanrang.example.vn>"))
    mails = smarthost.wait_for(3, timeout=60)
    assert [None, "yes", "yes"] == [m.message["X-Mailbridge-Duplicate"] for m in mails]
    assert ["accepted"] * 3 == [m.message["X-Mailbridge-Status"] for m in mails]
    assert ["1"] * 3 == [m.message["X-Mailbridge-Incoming-Number"] for m in mails]
    assert 1 == len(documents(box))
    verdicts = sorted(m["verdict"] for m in messages(box))
    assert ["accepted", "duplicate", "duplicate"] == verdicts


def test_rfc2047_subject_is_decoded_and_nfc(
    bridge: RunningBridge, smarthost, signed_pdf
) -> None:
    """An encoded-word subject typed in decomposed form is stored decoded and NFC."""
    box = bridge.sandbox
    nfd = unicodedata.normalize(
        "NFD", "Kế hoạch tổ chức Đại hội Đảng bộ phường Phan Rang"
    )
    raw = signed_mail(
        box, signed_pdf, subject=nfd, message_id="<nfd@phanrang.example.vn>"
    )
    assert b"=?utf-8?" in raw.split(b"\r\n\r\n", 1)[0].lower()
    send(box, raw)
    smarthost.wait_for(1, timeout=60)
    [doc] = documents(box)
    assert unicodedata.normalize("NFC", nfd) == doc["subject"]
    [msg] = messages(box)
    assert unicodedata.normalize("NFC", nfd) == msg["subject"]


def test_smtp_refusals_from_the_running_bridge(
    bridge: RunningBridge, smarthost
) -> None:
    """Unknown local user 550 5.1.1, other domain 550 5.7.1, too large 552 5.3.4."""
    box = bridge.sandbox
    with smtplib.SMTP("127.0.0.1", box.smtp_port, timeout=30) as client:
        client.ehlo("test.example.vn")
        client.mail(box.agency_address)
        code, text = client.rcpt("nobody@bridge.example.vn")
        assert (550, b"5.1.1") == (code, text[:5])
        code, text = client.rcpt("someone@elsewhere.example.com")
        assert (550, b"5.7.1") == (code, text[:5])
        client.rset()
        code, text = client.mail(box.agency_address, ["SIZE=999999999"])
        assert (552, b"5.3.4") == (code, text[:5])
    assert [] == messages(box)


def test_smarthost_down_then_up(
    start_bridge: StartBridge, sandbox: Sandbox, signed_pdf
) -> None:
    """With the smarthost down the reply waits in the outbox; it arrives once it is back."""
    from mailbridge.sample.capture import CaptureSmarthost

    running = start_bridge()
    send(
        sandbox,
        signed_mail(sandbox, signed_pdf, message_id="<down@phanrang.example.vn>"),
    )
    rows = wait_messages(sandbox, 1)
    assert ["accepted"] == [r["verdict"] for r in rows]
    assert running.wait_log("not sent yet", timeout=20), running.log_text()
    with CaptureSmarthost(sandbox.smarthost_port) as capture:
        mails = capture.wait_for(1, timeout=60)
    assert ["accepted"] == [m.message["X-Mailbridge-Status"] for m in mails]
    assert "<down@phanrang.example.vn>" == mails[0].message["In-Reply-To"]
    assert 0 == running.stop()


def test_kill_after_250_registers_once_and_answers_once(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost, signed_pdf
) -> None:
    """SIGKILL after 250 and before processing: on restart, registered exactly once, one reply."""
    config = sandbox.config()
    config["worker"] = {**config.get("worker", {}), "paused": True}
    sandbox.write_config(config)
    paused = start_bridge()
    send(
        sandbox,
        signed_mail(sandbox, signed_pdf, message_id="<crash@phanrang.example.vn>"),
    )
    spooled = list((sandbox.data_dir / "spool" / "new").glob("*.eml"))
    assert 1 == len(spooled)
    paused.proc.send_signal(signal.SIGKILL)
    paused.proc.wait(timeout=10)
    config["worker"]["paused"] = False
    sandbox.write_config(config)
    running = start_bridge()
    mails = smarthost.wait_for(1, timeout=60)
    time.sleep(1.0)  # a second answer, if any, would follow the first at once
    assert 1 == len(smarthost.mails), running.log_text()
    assert "accepted" == mails[0].message["X-Mailbridge-Status"]
    [doc] = documents(sandbox)
    assert (1, "crash@phanrang.example.vn") == (
        doc["incoming_number"],
        doc["message_id"],
    )
    assert 1 == len(messages(sandbox))
    assert [] == list((sandbox.data_dir / "spool" / "new").glob("*.eml"))
    assert 0 == running.stop()


def test_kill_during_processing_is_recovered(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost, signed_pdf
) -> None:
    """A message claimed by the worker when the process dies is processed once after restart."""
    running = start_bridge()
    running.stop(signal.SIGKILL)
    # what a crash mid-processing leaves: the message claimed in spool/work
    from mailbridge.spool import Envelope, Spool

    spool = Spool(sandbox.data_dir / "spool")
    raw = signed_mail(sandbox, signed_pdf, message_id="<claimed@phanrang.example.vn>")
    spool.put(
        raw,
        Envelope(
            sandbox.agency_address,
            (sandbox.bridge_address,),
            "2026-12-01T09:00:00+07:00",
        ),
    )
    item = spool.claim()
    assert item is not None and item.path.parent.name == "work"
    restarted = start_bridge()
    mails = smarthost.wait_for(1, timeout=60)
    assert ["accepted"] == [m.message["X-Mailbridge-Status"] for m in mails]
    assert 1 == len(documents(sandbox))
    assert 0 == restarted.stop()


def test_cli_exit_status_and_json_shapes(
    bridge: RunningBridge, smarthost, signed_pdf
) -> None:
    """documents/messages list print JSON arrays; show prints the object; errors exit 1."""
    box = bridge.sandbox
    send(box, signed_mail(box, signed_pdf, message_id="<shape@phanrang.example.vn>"))
    smarthost.wait_for(1, timeout=60)
    [doc] = documents(box)
    shown = json.loads(cli(box, "documents", "show", str(doc["id"]), "--json").stdout)
    assert doc["id"] == shown["id"]
    for field in (
        "supersedes",
        "superseded_by",
        "files",
        "history",
        "tags",
        "late",
        "deadline",
        "route_to",
        "dkim",
        "signatures",
        "abstract",
        "issue_date",
        "urgency",
        "signer_name",
        "signer_position",
        "document_type_name",
        "book",
        "year",
    ):
        assert field in shown
    [msg] = messages(box)
    assert {
        "id",
        "message_id",
        "received_at",
        "sender",
        "recipients",
        "subject",
        "verdict",
        "reason",
        "document_id",
    } <= set(msg)
    text = cli(box, "documents", "show", str(doc["id"])).stdout
    assert "incoming_number: 1" in text
    assert "917-CV/VPTU" in text
    assert "signature: valid Nguyễn Văn An" in text
    assert "history:" in text and "accepted by mailbridge" in text
    missing = cli(box, "documents", "show", "999", check=False)
    assert 1 == missing.returncode
    assert "no document 999" in missing.stderr
    parsed = BytesParser(policy=policy.default).parsebytes(b"")
    assert parsed is not None
