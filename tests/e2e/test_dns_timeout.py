"""DKIM keys over a DNS server that does not answer: the message waits, then passes.

The bridge runs with ``dns: {mode: system, nameservers: ["127.0.0.1:PORT"]}`` pointed
at a loopback UDP server of the test's own. While that server stays silent, the
message is accepted (``250``), kept in the spool with the error and a retry time,
and neither registered nor answered; once it answers with the agency's key, the
message is registered and answered exactly once, never returned with DKIM_FAIL.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from mailbridge.sample.capture import CaptureSmarthost
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.sample.sandbox import Sandbox
from mailbridge.verify.dns import SystemResolver

from .conftest import StartBridge, cli, documents, messages

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: The longest a test DNS server thread runs, whatever happens to the test.
SERVER_LIFETIME = 180.0


class SwitchableDns:
    """A loopback UDP DNS server that drops every query until told to answer."""

    def __init__(self, records: dict[str, str]) -> None:
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.answering = threading.Event()
        self.stop = threading.Event()
        self.dropped = 0
        self.answered = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def reply_to(self, data: bytes) -> bytes:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if name in self.records and question.rdtype == dns.rdatatype.TXT:
            value = self.records[name]
            chunks = " ".join(
                f'"{value[i : i + 255]}"' for i in range(0, len(value), 255)
            )
            response.answer.append(
                dns.rrset.from_text(question.name, 60, "IN", "TXT", chunks)
            )
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        wire: bytes = response.to_wire()
        return wire

    def serve(self) -> None:
        deadline = time.monotonic() + SERVER_LIFETIME
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            if not self.answering.is_set():
                self.dropped += 1
                continue
            self.answered += 1
            self.sock.sendto(self.reply_to(data), peer)

    def __enter__(self) -> SwitchableDns:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def silent_dns(sandbox: Sandbox) -> Iterator[SwitchableDns]:
    with SwitchableDns(sandbox.dns_records) as server:
        yield server


def spooled_sidecar(spool_new: Path, timeout: float = 20.0) -> dict[str, Any]:
    """The sidecar of the one message waiting in ``spool/new`` once it shows an error.

    The worker claims the message (moves it to ``work/``) at each retry, so a read
    may miss it; it is read again until the deadline.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for sidecar in spool_new.glob("*.json"):
            try:
                data = json.loads(sidecar.read_text("utf-8"))
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            if data.get("error") and sidecar.with_suffix(".eml").exists():
                assert isinstance(data, dict)
                return data
        time.sleep(0.05)
    raise AssertionError(f"no delayed message in {spool_new}")


def test_dns_silence_delays_then_registers_once(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    silent_dns: SwitchableDns,
    signed_pdf: bytes,
) -> None:
    """Silent DNS: 250, spooled with the error, no reply; DNS back: number 1, one reply."""
    config = sandbox.config()
    config["dns"] = {
        "mode": "system",
        "nameservers": [f"127.0.0.1:{silent_dns.port}"],
        "timeout_seconds": 0.5,
        "attempts": 2,
    }
    config["worker"] = {**config.get("worker", {}), "retry_seconds": 1}
    sandbox.write_config(config)
    running = start_bridge()

    raw = sandbox.agency_signer.sign(
        to_bytes(
            document_mail(
                sender=sandbox.agency_address,
                recipient=sandbox.bridge_address,
                subject="Công văn số 917-CV/VPTU về việc chuẩn bị hội nghị sơ kết",
                pdf=signed_pdf,
                pdf_name="917-CV-VPTU.pdf",
                message_id="<dns-wait@phanrang.example.vn>",
            )
        )
    )
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=30) as client:
        client.ehlo("phanrang.example.vn")
        client.mail(sandbox.agency_address)
        client.rcpt(sandbox.bridge_address)
        code, _text = client.data(raw)
    assert 250 == code

    # DNS silent: the message waits in the spool, delayed, and is retried
    sidecar = spooled_sidecar(sandbox.data_dir / "spool" / "new")
    assert sidecar["error"].startswith("temporary failure: DNS lookup of "), sidecar
    assert "mail._domainkey.phanrang.example.vn" in sidecar["error"]
    assert sidecar["not_before"] > 0
    assert running.wait_log(" delayed 1 s: ", timeout=20), running.log_text()
    deadline = time.monotonic() + 20
    while running.log_text().count(" delayed 1 s: ") < 2:
        assert time.monotonic() < deadline, running.log_text()
        time.sleep(0.1)
    assert silent_dns.dropped >= 4  # two tries of two attempts each, at least
    assert [] == smarthost.mails
    assert [] == messages(sandbox)
    assert [] == documents(sandbox)

    # DNS answers: registered once, answered once
    silent_dns.answering.set()
    mails = smarthost.wait_for(1, timeout=60)
    time.sleep(1.5)  # a second answer, if any, would follow within a retry period
    assert 1 == len(smarthost.mails), running.log_text()
    reply = mails[0].message
    assert ("accepted", "1") == (
        reply["X-Mailbridge-Status"],
        reply["X-Mailbridge-Incoming-Number"],
    )
    assert "<dns-wait@phanrang.example.vn>" == reply["In-Reply-To"]
    [doc] = documents(sandbox)
    assert (1, "accepted", "pass") == (
        doc["incoming_number"],
        doc["status"],
        doc["dkim"]["result"],
    )
    [msg] = messages(sandbox)
    assert ("accepted", None) == (msg["verdict"], msg["reason"])
    assert [] == list((sandbox.data_dir / "spool" / "new").glob("*.eml"))
    assert "DKIM_FAIL" not in running.log_text()
    assert silent_dns.answered >= 1
    assert 0 == running.stop(), running.log_text()


def test_a_silent_first_name_server_does_not_hide_the_second(
    sandbox: Sandbox,
) -> None:
    """Two name servers, the first silent: one try asks both and finds the key."""
    name = next(n for n in sandbox.dns_records if "phanrang" in n)
    with (
        SwitchableDns(sandbox.dns_records) as silent,
        SwitchableDns(sandbox.dns_records) as answering,
    ):
        answering.answering.set()
        resolver = SystemResolver(
            timeout=0.5,
            attempts=1,
            nameservers=[f"127.0.0.1:{silent.port}", f"127.0.0.1:{answering.port}"],
        )
        started = time.monotonic()
        records = asyncio.run(resolver.txt(name))
        elapsed = time.monotonic() - started
    assert [sandbox.dns_records[name].encode()] == records
    assert (1, 1) == (silent.dropped, answering.answered)
    assert elapsed < 2.0


def test_serve_refuses_a_name_server_that_is_not_an_address(sandbox: Sandbox) -> None:
    """dns.nameservers entries are IP or IP:PORT; a host name stops serve with exit 1."""
    config = sandbox.config()
    config["dns"] = {
        "mode": "system",
        "nameservers": ["127.0.0.1:5353", "ns1.phanrang.example.vn"],
    }
    sandbox.write_config(config)
    result = cli(sandbox, "serve", check=False)
    assert 1 == result.returncode
    line = next(
        n
        for n, text in enumerate(sandbox.config_file.read_text("utf-8").splitlines(), 1)
        if "ns1.phanrang.example.vn" in text
    )
    assert (
        f"{sandbox.config_file}:{line}: dns.nameservers[1]: not an IP address (or "
        "IP:PORT) of a name server: 'ns1.phanrang.example.vn'"
    ) in result.stderr
