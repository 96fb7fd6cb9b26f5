"""``mailbridge demo``: the whole path, end to end, in a throwaway folder.

It generates a test CA chain (marked TEST), DKIM keys and an agency; starts
``mailbridge serve`` as a subprocess on free loopback ports with a capture
smarthost; renders a Party công văn, signs it twice with pyHanko (the person's and
the organisation's signatures), mails it DKIM-signed over SMTP; then shows the reply
the bridge sent and the register entry, stops the bridge and removes the folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from mailbridge.clock import VN_TZ
from mailbridge.sample.capture import CapturedMail, CaptureSmarthost
from mailbridge.sample.document import DocumentSpec, render_pdf
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.sample.pki import TestPki
from mailbridge.sample.sandbox import Sandbox, make_sandbox
from mailbridge.sample.sign import sign_twice

__all__ = ["DemoResult", "run_demo", "signed_sample_pdf", "wait_for_port"]

Say = Callable[[str], None]


@dataclass(frozen=True)
class DemoResult:
    status: str
    incoming_number: int | None
    reply: CapturedMail
    document: dict[str, Any]


def wait_for_port(
    port: int, *, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"the bridge exited with status {proc.returncode} before listening"
            )
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def signed_sample_pdf(pki: TestPki, spec: DocumentSpec | None = None) -> bytes:
    """A sample công văn dated today with a personal and an organisation signature."""
    return sign_twice(
        render_pdf(spec or DocumentSpec(date=datetime.now(VN_TZ).date())), pki
    )


def _sample_mail(sandbox: Sandbox, pdf: bytes) -> bytes:
    msg: EmailMessage = document_mail(
        sender=sandbox.agency_address,
        recipient=sandbox.bridge_address,
        subject="Công văn số 917-CV/VPTU về việc chuẩn bị hội nghị sơ kết",
        body="Kính gửi Văn phòng Tỉnh ủy,\n\nVăn thư gửi kèm công văn đã ký số.\n",
        pdf=pdf,
        pdf_name="917-CV-VPTU.pdf",
    )
    return sandbox.agency_signer.sign(to_bytes(msg))


def _register_entry(sandbox: Sandbox, message_id: str | None) -> dict[str, Any]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailbridge",
            "documents",
            "list",
            "--json",
            "-c",
            str(sandbox.config_file),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    documents = json.loads(out.stdout)
    for doc in documents:
        if doc.get("message_id") == message_id:
            return dict(doc)
    raise RuntimeError("the document is not in the register")


def run_demo(
    *, templates_dir: Path, rules_dir: Path, say: Say, keep: bool = False
) -> DemoResult:
    """Run the demonstration; raise on any failure (the caller prints it)."""
    root = Path(tempfile.mkdtemp(prefix="mailbridge-demo-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        say(f"1. test CA chain, DKIM keys and an agency in {root}")
        sandbox = make_sandbox(root, templates_dir=templates_dir, rules_dir=rules_dir)
        with CaptureSmarthost(sandbox.smarthost_port) as smarthost:
            say(f"2. capture smarthost on 127.0.0.1:{sandbox.smarthost_port}")
            env = {**os.environ, "MAILBRIDGE_LOG_LEVEL": "WARNING"}
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mailbridge",
                    "serve",
                    "-c",
                    str(sandbox.config_file),
                ],
                env=env,
            )
            wait_for_port(sandbox.smtp_port, proc=proc)
            say(f"3. mailbridge serve listening on 127.0.0.1:{sandbox.smtp_port}")
            raw = _sample_mail(sandbox, signed_sample_pdf(sandbox.pki))
            with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=30) as client:
                client.sendmail(sandbox.agency_address, [sandbox.bridge_address], raw)
            say("4. sent a signed công văn (917-CV/VPTU), DKIM-signed, over SMTP")
            mails = smarthost.wait_for(1, timeout=60)
            if not mails:
                raise TimeoutError("no reply reached the smarthost within 60 s")
            reply = mails[0]
            message = reply.message
            say("5. the reply the bridge sent:")
            for header in (
                "From",
                "To",
                "Subject",
                "Auto-Submitted",
                "In-Reply-To",
                "X-Mailbridge-Status",
                "X-Mailbridge-Document-Id",
                "X-Mailbridge-Incoming-Number",
                "DKIM-Signature",
            ):
                value = message.get(header)
                if value is not None:
                    text = str(value)
                    say(f"   {header}: {text[:100]}{'…' if len(text) > 100 else ''}")
            body = message.get_body(preferencelist=("plain",))
            if body is not None:
                say("   " + body.get_content().strip().replace("\n", "\n   "))
            original_id = None
            in_reply_to = message.get("In-Reply-To")
            if in_reply_to:
                original_id = str(in_reply_to).strip().strip("<>")
            document = _register_entry(sandbox, original_id)
            say("6. the register entry (documents list --json):")
            say(json.dumps(document, ensure_ascii=False, indent=2))
        status = str(message.get("X-Mailbridge-Status", ""))
        number = message.get("X-Mailbridge-Incoming-Number")
        return DemoResult(status, int(str(number)) if number else None, reply, document)
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if keep:
            say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
