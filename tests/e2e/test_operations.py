"""Operating a running bridge: the no-reply guard, check-config, SIGHUP, SIGTERM,
the register listing and the demo, each through the real command line (issue 2)."""

from __future__ import annotations

import json
import os
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailbridge.keys import generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.capture import CaptureSmarthost
from mailbridge.sample.mail import document_mail, minimal_pdf, to_bytes
from mailbridge.sample.sandbox import Sandbox
from mailbridge.spool import Envelope, Spool

from .conftest import (
    REPO,
    RunningBridge,
    StartBridge,
    cli,
    messages,
    send,
    wait_messages,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SECOND_DOMAIN = "dovinh.example.vn"
SECOND_ADDRESS = f"vanthu@{SECOND_DOMAIN}"
SECOND_AGENCY: dict[str, Any] = {
    "code": "A32.01.09",
    "name": "Đảng ủy phường Đô Vinh (TEST)",
    "addresses": [SECOND_ADDRESS],
    "domains": [SECOND_DOMAIN],
    "pgp_fingerprints": [],
}


def mail(
    *,
    sender: str,
    recipient: str,
    message_id: str,
    text: str | None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A clerk's mail; ``text`` names a distinct unsigned PDF, None sends no PDF."""
    if text is not None:
        msg = document_mail(
            sender=sender,
            recipient=recipient,
            subject=f"Công văn {text}",
            pdf=minimal_pdf(f"Cong van {text} ve viec to chuc hoi nghi"),
            message_id=message_id,
        )
    else:
        msg = EmailMessage(policy=policy.SMTP)
        msg["From"] = sender
        msg["To"] = recipient
        msg["Subject"] = "Thư không kèm văn bản"
        msg["Message-ID"] = message_id
        msg.set_content("Kính gửi Văn phòng Tỉnh ủy.\n")
    for name, value in (headers or {}).items():
        msg[name] = value
    return msg


def agency_mail(
    box: Sandbox,
    message_id: str,
    text: str | None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A DKIM-signed mail from the sandbox's registered agency."""
    msg = mail(
        sender=box.agency_address,
        recipient=box.bridge_address,
        message_id=message_id,
        text=text,
        headers=headers,
    )
    return box.agency_signer.sign(to_bytes(msg))


def by_message_id(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {row["message_id"]: row for row in rows}


def test_no_reply_guard_over_smtp(
    bridge: RunningBridge, smarthost: CaptureSmarthost
) -> None:
    """Automatic, bulk, list and null-sender mail and unvouched strangers get no reply.

    The messages are all recorded; the returned ones are ``ignored``. A control
    message sent last is the only one answered.
    """
    box = bridge.sandbox
    send(
        box,
        agency_mail(
            box,
            "<auto@phanrang.example.vn>",
            "so 1",
            {"Auto-Submitted": "auto-replied"},
        ),
    )
    send(
        box,
        agency_mail(box, "<bulk@phanrang.example.vn>", "so 2", {"Precedence": "bulk"}),
    )
    send(
        box,
        agency_mail(
            box,
            "<list@phanrang.example.vn>",
            None,
            {"List-Id": "Thong bao <thongbao.phanrang.example.vn>"},
        ),
    )
    send(box, agency_mail(box, "<bounce@phanrang.example.vn>", None), sender="")
    stranger = mail(
        sender="khach@la.example.com",
        recipient=box.bridge_address,
        message_id="<stranger@la.example.com>",
        text="so 3",
    )
    send(box, to_bytes(stranger), sender="khach@la.example.com")
    send(box, agency_mail(box, "<control@phanrang.example.vn>", "so 4"))

    rows = by_message_id(wait_messages(box, 6))
    assert {
        "auto@phanrang.example.vn": ("accepted", None),
        "bulk@phanrang.example.vn": ("accepted", None),
        "list@phanrang.example.vn": ("ignored", "NO_DOCUMENT"),
        "bounce@phanrang.example.vn": ("ignored", "NO_DOCUMENT"),
        "stranger@la.example.com": ("ignored", "UNKNOWN_SENDER"),
        "control@phanrang.example.vn": ("accepted", None),
    } == {mid: (row["verdict"], row["reason"]) for mid, row in rows.items()}
    smarthost.wait_for(1, timeout=60)
    time.sleep(1.5)  # any other reply was queued before the control's: it would follow
    assert [("<control@phanrang.example.vn>", [box.agency_address])] == [
        (m.message["In-Reply-To"], list(m.rcpt_tos)) for m in smarthost.mails
    ], bridge.log_text()


def _line_of(text: str, needle: str) -> int:
    """The 1-based line of ``text`` that contains ``needle`` (exactly one)."""
    found = [n for n, line in enumerate(text.splitlines(), 1) if needle in line]
    assert 1 == len(found), (needle, found)
    return found[0]


def test_check_config(sandbox: Sandbox, rules_dir: Path) -> None:
    """OK on the sandbox; each bad key, broken rule and agency named by FILE:LINE: KEY."""
    ok = cli(sandbox, "check-config", check=False)
    assert (0, "") == (ok.returncode, ok.stderr)
    assert f"{sandbox.config_file}: OK" == ok.stdout.strip()

    data = sandbox.config()
    data["smtp"] = {
        **data["smtp"],
        "colour": "blue",
        "max_message_bytes": "rất lớn",
        "listen": ["127.0.0.1"],
    }
    bad = sandbox.config_file.with_name("bad.yaml")
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    text = bad.read_text("utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mailbridge", "check-config", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert 1 == result.returncode
    for key, needle in (
        ("smtp.colour", "colour: blue"),
        ("smtp.max_message_bytes", "max_message_bytes:"),
        ("smtp.listen[0]", "- 127.0.0.1"),
    ):
        where = f"{bad}:{_line_of(text, needle)}: {key}:"
        assert where in result.stderr, (where, result.stderr)

    agencies = sandbox.config_file.with_name("agencies.yaml")
    agencies.write_text(
        "agencies:\n"
        '  - code: "A32.01.07"\n'
        '    name: "Đảng ủy phường Phan Rang"\n'
        '    addresses: ["vanthu@phanrang.example.vn"]\n'
        '  - code: "A32.01.09"\n'
        '    name: "Đảng ủy phường Đô Vinh"\n'
        '    addresses: "vanthu@dovinh.example.vn"\n',
        "utf-8",
    )
    rules = rules_dir / "10-route.yaml"
    rules.write_text(
        "rules:\n"
        "  - name: hoa-toc\n"
        "    when:\n"
        "      urgency: [hoa_toc]\n"
        "    then:\n"
        "      route_to: chanh-van-phong\n"
        "  - name: sai-dieu-kien\n"
        "    when:\n"
        "      colour: [red]\n"
        "    then:\n"
        "      priority: high\n",
        "utf-8",
    )
    broken = cli(sandbox, "check-config", check=False)
    assert 1 == broken.returncode
    assert f"{agencies}:7: agencies[1].addresses:" in broken.stderr, broken.stderr
    assert f"{rules}:9: rules[1].when.colour:" in broken.stderr, broken.stderr


def _second_agency(sandbox: Sandbox) -> DkimSigner:
    """A DKIM key for a second agency, its record in the static DNS of the config."""
    key = generate_dkim_key(
        sandbox.root / "second-keys", domain=SECOND_DOMAIN, selector="mail"
    )
    data = sandbox.config()
    data["dns"]["static_records"][key.dns_name] = key.txt_record
    sandbox.write_config(data)
    return DkimSigner.from_file(SECOND_DOMAIN, "mail", key.private_key_file)


def test_sighup_reloads_agencies_only_when_valid(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost: CaptureSmarthost
) -> None:
    """A broken agencies.yaml is refused with its line in the log; a valid one is in effect."""
    second = _second_agency(sandbox)
    running = start_bridge()
    agencies = sandbox.config_file.with_name("agencies.yaml")
    original = yaml.safe_load(agencies.read_text("utf-8"))

    def second_mail(message_id: str, text: str) -> bytes:
        msg = mail(
            sender=SECOND_ADDRESS,
            recipient=sandbox.bridge_address,
            message_id=message_id,
            text=text,
        )
        return second.sign(to_bytes(msg))

    send(
        sandbox,
        second_mail("<before@dovinh.example.vn>", "so 10"),
        sender=SECOND_ADDRESS,
    )
    before = smarthost.wait_for(1, timeout=60)
    assert [("returned", "UNKNOWN_SENDER")] == [
        (m.message["X-Mailbridge-Status"], m.message["X-Mailbridge-Reason"])
        for m in before
    ]

    agencies.write_text(
        'agencies:\n  - code: "A32.01.07"\n    addresses: 42\n',
        "utf-8",
    )
    running.proc.send_signal(signal.SIGHUP)
    assert running.wait_log("reload refused", timeout=5.0), running.log_text()
    assert f"{agencies}:3: agencies[0].addresses:" in running.log_text()
    send(sandbox, agency_mail(sandbox, "<kept@phanrang.example.vn>", "so 11"))
    kept = smarthost.wait_for(2, timeout=60)
    assert ("<kept@phanrang.example.vn>", "accepted") == (
        kept[1].message["In-Reply-To"],
        kept[1].message["X-Mailbridge-Status"],
    ), running.log_text()

    original["agencies"].append(SECOND_AGENCY)
    agencies.write_text(yaml.safe_dump(original, allow_unicode=True), "utf-8")
    running.proc.send_signal(signal.SIGHUP)
    assert running.wait_log("reloaded 2 agencies", timeout=5.0), running.log_text()
    send(
        sandbox,
        second_mail("<after@dovinh.example.vn>", "so 12"),
        sender=SECOND_ADDRESS,
    )
    after = smarthost.wait_for(3, timeout=60)
    assert ("<after@dovinh.example.vn>", "accepted") == (
        after[2].message["In-Reply-To"],
        after[2].message["X-Mailbridge-Status"],
    ), running.log_text()
    rows = by_message_id(messages(sandbox))
    assert {
        "before@dovinh.example.vn": ("returned", None),
        "kept@phanrang.example.vn": ("accepted", "A32.01.07"),
        "after@dovinh.example.vn": ("accepted", "A32.01.09"),
    } == {mid: (r["verdict"], r["agency_code"]) for mid, r in rows.items()}
    assert 0 == running.stop()


def test_sigterm_during_data_exits_0_within_20_s(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost: CaptureSmarthost
) -> None:
    """SIGTERM while a client is in DATA: exit 0 within 20 s, the half message not taken."""
    running = start_bridge()
    raw = agency_mail(sandbox, "<half@phanrang.example.vn>", "so 20")
    client = smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=30)
    try:
        client.ehlo("test.example.vn")
        client.mail(sandbox.agency_address)
        client.rcpt(sandbox.bridge_address)
        client.putcmd("data")
        assert 354 == client.getreply()[0]
        client.send(raw[: len(raw) // 2])
        started = time.monotonic()
        running.proc.send_signal(signal.SIGTERM)
        code = running.proc.wait(timeout=20)
        elapsed = time.monotonic() - started
        assert (0, True) == (code, elapsed < 20), running.log_text()
        try:
            client.send(raw[len(raw) // 2 :] + b"\r\n.\r\n")
            reply = client.getreply()[0]
        except (smtplib.SMTPServerDisconnected, OSError):
            reply = None
        assert reply != 250
    finally:
        client.close()
    assert [] == messages(sandbox)
    assert [] == smarthost.mails


def test_sigterm_while_a_reply_is_being_sent(
    start_bridge: StartBridge, sandbox: Sandbox
) -> None:
    """SIGTERM while the smarthost stalls a reply: exit 0 within 20 s; sent after restart."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as stalling:
        stalling.bind(("127.0.0.1", sandbox.smarthost_port))
        stalling.listen(8)
        stalling.settimeout(60)
        running = start_bridge()
        send(sandbox, agency_mail(sandbox, "<stall@phanrang.example.vn>", "so 21"))
        connection, _peer = stalling.accept()  # the reply is on its way: never greeted
        with connection:
            started = time.monotonic()
            running.proc.send_signal(signal.SIGTERM)
            code = running.proc.wait(timeout=20)
            elapsed = time.monotonic() - started
    assert (0, True) == (code, elapsed < 20), running.log_text()
    with CaptureSmarthost(sandbox.smarthost_port) as capture:
        restarted = start_bridge()
        capture.wait_for(1, timeout=60)
        time.sleep(1.0)  # a second copy, if any, would follow at once
        assert [("<stall@phanrang.example.vn>", "accepted")] == [
            (m.message["In-Reply-To"], m.message["X-Mailbridge-Status"])
            for m in capture.mails
        ], restarted.log_text()
        assert 0 == restarted.stop()


def _spool_at(box: Sandbox, message_id: str, text: str, received_at: str) -> None:
    """Put an agency mail in the spool as if it had arrived at ``received_at``."""
    Spool(box.data_dir / "spool").put(
        agency_mail(box, message_id, text),
        Envelope(box.agency_address, (box.bridge_address,), received_at),
    )


def test_documents_list_filters(
    start_bridge: StartBridge, sandbox: Sandbox, smarthost: CaptureSmarthost
) -> None:
    """--status, --since (a Vietnam day), --limit: newest first; an unknown status exits 1."""
    _spool_at(sandbox, "<d1@phanrang.example.vn>", "so 31", "2026-11-20T09:00:00+07:00")
    _spool_at(sandbox, "<d2@phanrang.example.vn>", "so 32", "2026-11-24T23:30:00+07:00")
    # 00:30 on 25 November in Vietnam
    _spool_at(sandbox, "<d3@phanrang.example.vn>", "so 33", "2026-11-24T17:30:00+00:00")
    _spool_at(sandbox, "<d4@phanrang.example.vn>", "so 34", "2026-11-26T10:00:00+07:00")
    running = start_bridge()
    assert 4 == len(wait_messages(sandbox, 4)), running.log_text()
    ids = {m["message_id"]: m["document_id"] for m in messages(sandbox)}
    cli(
        sandbox,
        "documents",
        "set-status",
        str(ids["d4@phanrang.example.vn"]),
        "in_progress",
    )

    def listed(*args: str) -> list[str]:
        out = cli(sandbox, "documents", "list", *args, "--json").stdout
        return [d["message_id"].split("@")[0] for d in json.loads(out)]

    assert ["d4", "d3", "d2", "d1"] == listed()
    assert ["d3", "d2", "d1"] == listed("--status", "accepted")
    assert ["d4", "d3"] == listed("--since", "2026-11-25")
    assert ["d3"] == listed("--status", "accepted", "--since", "2026-11-25")
    assert ["d4", "d3"] == listed("--limit", "2")
    assert ["d3"] == listed("--status", "accepted", "--limit", "1")
    assert [] == listed("--status", "returned")
    unknown = cli(sandbox, "documents", "list", "--status", "bogus", check=False)
    assert (1, "") == (unknown.returncode, unknown.stdout)
    assert "unknown status 'bogus'" in unknown.stderr
    assert 0 == running.stop()


def test_demo_subprocess() -> None:
    """``mailbridge demo`` from the repository folder exits 0 with the receipt facts."""
    env = {k: v for k, v in os.environ.items() if k != "MAILBRIDGE_CONFIG"}
    result = subprocess.run(
        [sys.executable, "-m", "mailbridge", "demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert 0 == result.returncode, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "status: accepted" in lines
    assert "incoming number: 1" in lines
