"""The SMTP front door, spoken to over loopback by smtplib and swaks.

The bridge's own factory (``make_smtp_factory``) runs on an event loop in a thread;
every test checks the reply lines a client sees and the bytes left in the spool.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mailbridge.clock import VN_TZ, FixedClock
from mailbridge.ingest.smtp import BridgeSMTP, IngestHandler, make_smtp_factory
from mailbridge.spool import Spool

ADDRESS = "vanthu@bridge.example.vn"
HOSTNAME = "bridge.example.vn"
HELO = "mail.so-tc.example.vn"
SENDER = "vanthu@so-tc.example.vn"
NOW = datetime(2026, 11, 22, 9, 15, tzinfo=VN_TZ)
MAX_BYTES = 4000
#: the spool's pending() when nothing was accepted
NOTHING_SPOOLED: list[str] = []

RAW = (
    f"From: Văn thư Sở Tài chính <{SENDER}>\r\n"
    f"To: {ADDRESS}\r\n"
    "Subject: Công văn 917-CV/STC\r\n"
    "Message-ID: <917@so-tc.example.vn>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Kính gửi Văn phòng Tỉnh ủy.\r\n"
    ".a line that starts with a dot\r\n"
).encode()


def received_line(spool_id: str, helo: str = HELO) -> bytes:
    """The trace header the bridge puts in front of what it received."""
    return (
        f"Received: from {helo} ([127.0.0.1])\r\n"
        f"\tby {HOSTNAME} (mailbridge) with ESMTP id {spool_id};\r\n"
        "\tSun, 22 Nov 2026 09:15:00 +0700\r\n"
    ).encode()


class BridgeController(Controller):
    """aiosmtpd's threaded controller serving the bridge's own protocol factory."""

    def __init__(self, factory: Callable[[], BridgeSMTP], port: int) -> None:
        super().__init__(handler=None, hostname="127.0.0.1", port=port)
        self._bridge_factory = factory

    def factory(self) -> BridgeSMTP:
        return self._bridge_factory()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Front:
    """A running front door: where it listens, its handler, and what it stored."""

    port: int
    spool: Spool
    handler: IngestHandler
    #: spool ids passed to the handler's ``on_spooled`` hook, in order
    notified: list[str]


def start_front(
    tmp_path: Path,
    *,
    tls_context: ssl.SSLContext | None = None,
    require_tls: bool = False,
) -> tuple[BridgeController, Front]:
    """Start the bridge's SMTP listener on loopback over a spool in ``tmp_path``."""
    spool = Spool(tmp_path / "spool")
    notified: list[str] = []
    handler = IngestHandler(
        spool,
        addresses=frozenset({ADDRESS}),
        domains=frozenset({HOSTNAME}),
        hostname=HOSTNAME,
        clock=FixedClock(NOW),
        on_spooled=notified.append,
    )
    factory = make_smtp_factory(
        handler,
        max_bytes=MAX_BYTES,
        hostname=HOSTNAME,
        tls_context=tls_context,
        require_tls=require_tls,
    )
    controller = BridgeController(factory, free_port())
    controller.start()
    return controller, Front(controller.port, spool, handler, notified)


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    """The bridge's SMTP listener, started, with an empty spool."""
    controller, running = start_front(tmp_path)
    try:
        yield running
    finally:
        controller.stop()


def client(front: Front) -> smtplib.SMTP:
    """An SMTP client connected to the bridge, after EHLO."""
    conn = smtplib.SMTP("127.0.0.1", front.port, local_hostname=HELO, timeout=10)
    conn.ehlo()
    return conn


def spooled(spool: Spool) -> list[tuple[bytes, dict[str, object]]]:
    """Every message waiting in new/: its bytes and its sidecar."""
    return [
        (
            (spool.new / f"{i}.eml").read_bytes(),
            json.loads((spool.new / f"{i}.json").read_text("utf-8")),
        )
        for i in spool.pending()
    ]


def bodies(spool: Spool) -> list[bytes]:
    """What each spooled message holds after the bridge's three-line Received header."""
    return [raw.split(b"\r\n", 3)[3] for raw, _ in spooled(spool)]


def sidecar(spool_id: str, *, helo: str = HELO) -> dict[str, object]:
    """The envelope sidecar expected for a mail from the agency clerk."""
    return {
        "mail_from": SENDER,
        "rcpt_tos": [ADDRESS],
        "received_at": "2026-11-22T09:15:00+07:00",
        "source": "smtp",
        "peer": "127.0.0.1",
        "helo": helo,
        "priority": 0,
        "attempts": 0,
        "not_before": 0.0,
        "error": None,
        "extra": {},
        "schema_version": 1,
    }


def test_accepted_mail_is_spooled_with_exact_bytes(front: Front) -> None:
    """250 with the spool id; new/ holds Received + the bytes sent, and the envelope."""
    with client(front) as conn:
        mail = conn.mail(SENDER, options=["BODY=8BITMIME"])
        rcpt = conn.rcpt("VanThu@Bridge.Example.VN")
        code, reply = conn.data(RAW)

    [spool_id] = front.spool.pending()
    expected = [
        (250, b"2.1.0 OK"),
        (250, b"2.1.5 Recipient OK"),
        (250, f"2.0.0 OK: queued as {spool_id}".encode()),
    ]
    assert expected == [mail, rcpt, (code, reply)]
    assert [spool_id] == front.notified
    assert [(received_line(spool_id) + RAW, sidecar(spool_id))] == spooled(front.spool)


def test_null_sender_is_accepted_and_recorded_as_none(front: Front) -> None:
    """A bounce (MAIL FROM:<>) is stored; the sidecar's mail_from is null."""
    with client(front) as conn:
        conn.mail("<>")
        conn.rcpt(ADDRESS)
        code, _reply = conn.data(RAW)

    [(_raw, envelope)] = spooled(front.spool)
    expected = (250, None)
    assert expected == (code, envelope["mail_from"])


def test_shutting_down_bridge_answers_421_4_3_2(front: Front) -> None:
    """While serve stops, a new MAIL FROM is told to come back later; nothing stored."""
    front.handler.accepting = False

    with client(front) as conn:
        reply = conn.mail(SENDER)

    expected = ((421, b"4.3.2 Service shutting down: try again later"), NOTHING_SPOOLED)
    assert expected == (reply, front.spool.pending())


def test_unknown_local_recipient_is_refused_550_5_1_1(front: Front) -> None:
    """RCPT to an address of our domain that is not registered: 550 5.1.1."""
    with client(front) as conn:
        conn.mail(SENDER)
        reply = conn.rcpt("giamdoc@bridge.example.vn")

    expected = ((550, b"5.1.1 No such recipient here"), NOTHING_SPOOLED)
    assert expected == (reply, front.spool.pending())


def test_other_domain_is_refused_550_5_7_1_never_relayed(front: Front) -> None:
    """RCPT to another domain: 550 5.7.1, and DATA has nobody to go to."""
    with client(front) as conn:
        conn.mail(SENDER)
        reply = conn.rcpt("someone@gmail.example.com")
        data_code, _ = conn.docmd("DATA")

    refused = (
        550,
        b"5.7.1 Relaying denied: this gateway accepts mail for its own addresses only",
    )
    expected = (refused, 503, NOTHING_SPOOLED)
    assert expected == (reply, data_code, front.spool.pending())


def test_declared_size_over_the_limit_is_refused_552_5_3_4(front: Front) -> None:
    """MAIL FROM with SIZE= above max_bytes: 552 5.3.4 naming the limit."""
    with client(front) as conn:
        reply = conn.mail(SENDER, options=[f"SIZE={MAX_BYTES + 1}"])

    expected = (
        (552, f"5.3.4 Message too big for this gateway (limit {MAX_BYTES} bytes)"),
        NOTHING_SPOOLED,
    )
    assert expected == ((reply[0], reply[1].decode()), front.spool.pending())


def test_data_over_the_limit_is_refused_552_5_3_4(front: Front) -> None:
    """DATA larger than max_bytes (no SIZE= given): 552 5.3.4, nothing spooled."""
    big = RAW + b"x" * 78 + b"\r\n"
    big += (b"y" * 78 + b"\r\n") * (MAX_BYTES // 80 + 1)
    with client(front) as conn:
        conn.mail(SENDER)
        conn.rcpt(ADDRESS)
        code, reply = conn.data(big)
        # the session goes on: a smaller message afterwards is accepted
        conn.mail(SENDER)
        conn.rcpt(ADDRESS)
        next_code, _ = conn.data(RAW)

    expected = (
        (552, f"5.3.4 Message too big for this gateway (limit {MAX_BYTES} bytes)"),
        250,
        [RAW],
    )
    assert expected == ((code, reply.decode()), next_code, bodies(front.spool))


def test_spool_that_cannot_store_answers_451_4_3_0(front: Front) -> None:
    """A broken spool (tmp/ is a file): 451 4.3.0, so the sender retries later."""
    shutil.rmtree(front.spool.tmp)
    front.spool.tmp.write_bytes(b"not a folder")

    with client(front) as conn:
        conn.mail(SENDER)
        conn.rcpt(ADDRESS)
        reply = conn.data(RAW)

    expected = (
        (451, b"4.3.0 Could not store the message: try again later"),
        NOTHING_SPOOLED,
    )
    assert expected == (reply, front.spool.pending())


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)])
    start = datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName(HOSTNAME),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = tmp_path / "cert.pem"
    key_path = tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_require_tls_refuses_mail_before_starttls_530_5_7_0(tmp_path: Path) -> None:
    """With require_tls: MAIL FROM in clear gets 530 5.7.0; after STARTTLS, 250."""
    cert, key = self_signed(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    controller, running = start_front(
        tmp_path, tls_context=server_ctx, require_tls=True
    )
    try:
        with client(running) as conn:
            clear = conn.mail(SENDER)
            conn.starttls(context=client_ctx)
            conn.ehlo()
            secured = conn.mail(SENDER)
            conn.rcpt(ADDRESS)
            code, _ = conn.data(RAW)
    finally:
        controller.stop()

    expected = (
        (530, b"5.7.0 Must issue a STARTTLS command first"),
        (250, b"2.1.0 OK"),
        250,
        [RAW],
    )
    assert expected == (clear, secured, code, bodies(running.spool))


SWAKS = shutil.which("swaks")
needs_swaks = pytest.mark.skipif(SWAKS is None, reason="swaks is not installed")


def swaks(front: Front, *args: str) -> subprocess.CompletedProcess[str]:
    """Run swaks against the bridge; its transcript is in stdout."""
    assert SWAKS is not None
    return subprocess.run(
        [
            SWAKS,
            "--server",
            "127.0.0.1",
            "--port",
            str(front.port),
            "--helo",
            HELO,
            "--from",
            SENDER,
            "--timeout",
            "10",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_swaks
def test_swaks_delivery_is_spooled_with_exact_bytes(
    front: Front, tmp_path: Path
) -> None:
    """A mail sent by swaks gets 250 and is stored byte for byte, with its envelope."""
    eml = tmp_path / "letter.eml"
    eml.write_bytes(RAW.removesuffix(b"\r\n"))  # swaks ends the data with CRLF itself

    result = swaks(front, "--to", ADDRESS, "--data", f"@{eml}")

    assert result.returncode == 0, result.stdout + result.stderr
    [spool_id] = front.spool.pending()
    assert f"<-  250 2.0.0 OK: queued as {spool_id}" in result.stdout.splitlines()
    assert [(received_line(spool_id) + RAW, sidecar(spool_id))] == spooled(front.spool)


@needs_swaks
def test_swaks_relay_attempt_is_refused(front: Front) -> None:
    """swaks to another domain sees 550 5.7.1 and gives up (exit 24: RCPT refused)."""
    result = swaks(front, "--to", "someone@gmail.example.com")

    refused = (
        "<** 550 5.7.1 Relaying denied: "
        "this gateway accepts mail for its own addresses only"
    )
    expected = (24, True, NOTHING_SPOOLED)
    assert expected == (
        result.returncode,
        refused in result.stdout.splitlines(),
        front.spool.pending(),
    )
