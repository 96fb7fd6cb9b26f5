"""Content over SMTP: classification, holds, rules (with SIGHUP) and ClamAV (issue 4).

Each test drives a real ``mailbridge serve`` subprocess: mail in over smtplib, the
replies caught by the capture smarthost, the register read through the command line.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import signal
import time
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pypdf
import pytest

from mailbridge.policy.checks import BUILTIN_CHECKS
from mailbridge.sample.capture import CapturedMail, CaptureSmarthost
from mailbridge.sample.clamd import EICAR, Clamd, ClamdNotInstalled, start_clamd
from mailbridge.sample.document import DocumentSpec, render_pdf, render_scanned_pdf
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.sample.pki import TestPki
from mailbridge.sample.sandbox import Sandbox
from mailbridge.sample.sign import sign_twice

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

#: a phrase of the classified document's text that nothing but that document holds
SECRET_PHRASE = "kho xăng dầu Cam Ranh số hiệu KX-4417"
SECRET_SPEC = DocumentSpec(
    number_symbol="931-CV/VPTU",
    abstract="phương án bảo vệ mục tiêu trọng yếu",
    stamp="MẬT",
    body=(f"Phương án bảo vệ {SECRET_PHRASE} trong dịp Tết.",),
)
SECRET_SUBJECT = "Công văn 931-CV/VPTU về phương án bảo vệ mục tiêu trọng yếu"
CONTROL_SUBJECT = "Công văn số 917-CV/VPTU về việc chuẩn bị hội nghị sơ kết"
MARKED_SUBJECT = "MẬT - Kế hoạch bảo đảm an ninh Đại hội đại biểu Đảng bộ tỉnh"

RULES = """\
rules:
  - name: tra-lai-quang-cao
    when:
      subject_matches: "(?i)quảng cáo"
    then:
      reject: RULE
  - name: dai-hoi-ve-ban-to-chuc
    when:
      subject_matches: "(?i)đại hội"
    then:
      route_to: ban-to-chuc
      tags: [dai-hoi, uu-tien]
      deadline_hours: 6
  - name: giu-lai-de-kiem-tra
    when:
      subject_matches: "(?i)kiểm tra"
    then:
      hold: true
"""
RULE_NAMES = ["tra-lai-quang-cao", "dai-hoi-ve-ban-to-chuc", "giu-lai-de-kiem-tra"]


# -- builders ---------------------------------------------------------------------


def signed_spec(pki: TestPki, number_symbol: str) -> bytes:
    """A clean, signed công văn with its own number (so its bytes are its own)."""
    return sign_twice(render_pdf(DocumentSpec(number_symbol=number_symbol)), pki)


def mail(
    box: Sandbox,
    pdf: bytes,
    *,
    subject: str,
    message_id: str,
    pdf_name: str = "cong-van.pdf",
    extra: tuple[tuple[str, str, bytes], ...] = (),
) -> bytes:
    """A DKIM-signed clerk's mail with ``pdf`` and ``extra`` (name, type, bytes)."""
    msg = document_mail(
        sender=box.agency_address,
        recipient=box.bridge_address,
        subject=subject,
        pdf=pdf,
        pdf_name=pdf_name,
        message_id=message_id,
    )
    for name, content_type, data in extra:
        maintype, subtype = content_type.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return box.agency_signer.sign(to_bytes(msg))


def text_of(msg: EmailMessage) -> str:
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def everything_in(captured: CapturedMail) -> str:
    """Every header and every decoded part of a mail, as one text."""
    msg = captured.message
    texts = [f"{name}: {value}" for name, value in msg.items()]
    for part in msg.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        texts.append(
            content if isinstance(content, str) else bytes(content).decode("latin-1")
        )
    return "\n".join(texts)


def json_part(msg: EmailMessage) -> dict[str, Any]:
    for part in msg.walk():
        if part.get_content_type() == "application/json":
            return dict(json.loads(part.get_content()))
    raise AssertionError("the mail has no JSON part")


def status_of(captured: CapturedMail) -> tuple[str | None, str | None, str | None]:
    msg = captured.message
    return (
        msg["X-Mailbridge-Status"],
        msg["X-Mailbridge-Reason"],
        msg["X-Mailbridge-Incoming-Number"],
    )


def replies_to(captured: list[CapturedMail], message_id: str) -> list[CapturedMail]:
    return [m for m in captured if m.message["In-Reply-To"] == message_id]


def wait_replies(
    smarthost: CaptureSmarthost, message_id: str, count: int, timeout: float = 90.0
) -> list[CapturedMail]:
    """The replies to ``message_id`` once there are ``count`` of them (bounded)."""
    deadline = time.monotonic() + timeout
    found: list[CapturedMail] = []
    while time.monotonic() < deadline:
        found = replies_to(smarthost.mails, message_id)
        if len(found) >= count:
            return found
        time.sleep(0.2)
    return found


def message_row(box: Sandbox, message_id: str) -> dict[str, Any]:
    [row] = [m for m in messages(box) if m["message_id"] == message_id.strip("<>")]
    return dict(row)


def pdf_probes(pdf: bytes, raw: bytes, *, common: bytes = b"") -> list[bytes]:
    """Slices that would betray the PDF: the whole file, high-entropy windows of it
    (those not also in ``common``, another PDF that may be stored), and lines of its
    base64 form as it travelled in ``raw``."""
    step = max(1, len(pdf) // 24)
    windows = [pdf[o : o + 48] for o in range(0, len(pdf) - 48, step)]
    distinct = [w for w in windows if len(set(w)) >= 36 and w not in common]
    assert len(distinct) >= 8, "too few distinctive slices of the PDF"
    lines = [ln for ln in raw.split(b"\r\n") if len(ln) == 76 and len(set(ln)) >= 30]
    assert len(lines) >= 8, "the PDF's base64 lines are not in the mail"
    return [pdf, *distinct, *lines[len(lines) // 4 :: max(1, len(lines) // 8)]]


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's bytes (``\\ddd`` octal and ``\\(`` escapes resolved)."""
    value = re.sub(rb"\\([0-7]{1,3})", lambda m: bytes([int(m.group(1), 8)]), literal)
    return re.sub(rb"\\(.)", rb"\1", value)


def text_probes(pdf: bytes, phrase: str) -> list[bytes]:
    """``phrase`` in UTF-8 (NFC and NFD), UTF-16BE, and as the PDF's content stream
    draws it (the string operand of its Tj, escaped and unescaped)."""
    stream = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].get_contents()
    assert stream is not None
    marker = phrase.rsplit(" ", 1)[-1].encode("ascii")
    drawn = [
        m.group(1)
        for m in re.finditer(rb"\(((?:[^()\\]|\\.)*)\) Tj", stream.get_data())
        if marker in m.group(1)
    ]
    assert 1 == len(drawn), "the phrase is not drawn as one Tj in the PDF"
    return [
        unicodedata.normalize("NFC", phrase).encode("utf-8"),
        unicodedata.normalize("NFD", phrase).encode("utf-8"),
        phrase.encode("utf-16-be"),
        drawn[0],
        _unescape(drawn[0]),
    ]


def files_holding(root: Path, probes: list[bytes]) -> list[tuple[str, int]]:
    """(file, probe index) for every file under ``root``, at any depth, that holds a
    probe."""
    found: list[tuple[str, int]] = []
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [
                (str(path.relative_to(root)), index)
                for index, probe in enumerate(probes)
                if probe in data
            ]
    return found


# -- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def secret_pdf(e2e_pki: TestPki) -> bytes:
    """A signed công văn stamped MẬT."""
    return sign_twice(render_pdf(SECRET_SPEC), e2e_pki)


@pytest.fixture(scope="module")
def scanned_pdfs(e2e_pki: TestPki) -> tuple[bytes, bytes]:
    """Two signed scans with no text layer and no stamp (corpus: uncertain)."""
    return (
        sign_twice(
            render_scanned_pdf(DocumentSpec(number_symbol="911-CV/VPTU")), e2e_pki
        ),
        sign_twice(
            render_scanned_pdf(DocumentSpec(number_symbol="913-CV/VPTU")), e2e_pki
        ),
    )


@pytest.fixture(scope="module")
def clamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clamd]:
    """A real clamd with the local EICAR signature, for the module."""
    try:
        running = start_clamd(tmp_path_factory.mktemp("clamd"))
    except ClamdNotInstalled:
        pytest.skip("clamd is not installed")
    yield running
    running.stop()


# -- tests ------------------------------------------------------------------------


def test_classified_is_returned_alerted_and_leaves_no_trace(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    secret_pdf: bytes,
    signed_pdf: bytes,
    e2e_pki: TestPki,
) -> None:
    """A MẬT stamp and a MẬT subject: returned CLASSIFIED, alert with hashes only, no
    document, no subject, and no byte of the PDF or its text anywhere under data_dir
    (while a clean document sent alongside is found there, as a control)."""
    box = sandbox
    running = start_bridge()
    control_id = "<clean@phanrang.example.vn>"
    send(box, mail(box, signed_pdf, subject=CONTROL_SUBJECT, message_id=control_id))
    stamped_id = "<mat-stamp@phanrang.example.vn>"
    raw = mail(
        box,
        secret_pdf,
        subject=SECRET_SUBJECT,
        message_id=stamped_id,
        pdf_name="931-CV-VPTU.pdf",
    )
    send(box, raw)
    subject_id = "<mat-subject@phanrang.example.vn>"
    other_pdf = signed_spec(e2e_pki, "951-CV/VPTU")
    send(box, mail(box, other_pdf, subject=MARKED_SUBJECT, message_id=subject_id))
    mails = smarthost.wait_for(5, timeout=90)
    assert 5 == len(mails), running.log_text()

    replies = [m for m in mails if list(m.rcpt_tos) == [box.agency_address]]
    contact = box.config()["security_contact"]
    assert "antoan@bridge.example.vn" == contact
    alerts = [m for m in mails if list(m.rcpt_tos) == [contact]]
    assert (3, 2) == (len(replies), len(alerts))
    returned = replies_to(replies, stamped_id) + replies_to(replies, subject_id)
    assert [("returned", "CLASSIFIED", None)] * 2 == [status_of(m) for m in returned]
    leaks = (
        SECRET_SUBJECT,
        MARKED_SUBJECT,
        "Kế hoạch bảo đảm an ninh",
        SECRET_PHRASE,
        SECRET_SPEC.number_symbol,
        SECRET_SPEC.abstract,
        "931-CV-VPTU.pdf",
    )
    for reply in returned:
        seen = everything_in(reply)
        assert [] == [leak for leak in leaks if leak in seen]
        assert "độ mật" in text_of(reply.message)
    pdf_hash = hashlib.sha256(secret_pdf).hexdigest()
    [stamp_alert] = [m for m in alerts if stamped_id in everything_in(m)]
    for alert in alerts:
        seen = everything_in(alert)
        assert [] == [leak for leak in leaks if leak in seen]
        assert [] == [
            p.get_content_type()
            for p in alert.message.walk()
            if p.get_content_type() == "application/pdf"
        ]
    assert pdf_hash in everything_in(stamp_alert)

    rows = {row["message_id"]: row for row in messages(box)}
    expected = {
        "mat-stamp@phanrang.example.vn": ("returned", "CLASSIFIED", None),
        "mat-subject@phanrang.example.vn": ("returned", "CLASSIFIED", None),
        "clean@phanrang.example.vn": ("accepted", None, CONTROL_SUBJECT),
    }
    assert expected == {
        key: (r["verdict"], r["reason"], r["subject"]) for key, r in rows.items()
    }
    [doc] = documents(box)
    assert (rows["clean@phanrang.example.vn"]["document_id"], 1) == (
        doc["id"],
        doc["incoming_number"],
    )

    probes = [
        *pdf_probes(secret_pdf, raw, common=signed_pdf),
        *text_probes(secret_pdf, SECRET_PHRASE),
        "Kế hoạch bảo đảm an ninh".encode(),
        b"931-CV-VPTU.pdf",  # a file name can carry the title or the mark
    ]
    control = [signed_pdf, CONTROL_SUBJECT.encode()]
    for moment in ("while serving", "after stopping"):
        if moment == "after stopping":
            assert 0 == running.stop(), running.log_text()
        assert ([], moment) == (files_holding(box.data_dir, probes), moment)
        held = files_holding(box.data_dir, control)
        assert ({0, 1}, moment) == ({index for _, index in held}, moment)


def test_unreadable_scan_is_held_then_released_or_returned(
    bridge: RunningBridge,
    smarthost: CaptureSmarthost,
    scanned_pdfs: tuple[bytes, bytes],
) -> None:
    """A scan with no text layer is held (arrived, no number); release numbers it 1
    and answers accepted; return --reason RULE answers returned with the reason."""
    box = bridge.sandbox
    first_id = "<scan-1@phanrang.example.vn>"
    send(
        box,
        mail(box, scanned_pdfs[0], subject="Công văn 911-CV/VPTU", message_id=first_id),
    )
    [arrived] = wait_replies(smarthost, first_id, 1)
    assert ("arrived", None, None) == status_of(arrived)
    [doc] = documents(box)
    assert ("arrived", None) == (doc["status"], doc["incoming_number"])
    held = message_row(box, first_id)
    assert ("held", None, doc["id"]) == (
        held["verdict"],
        held["reason"],
        held["document_id"],
    )

    out = cli(box, "messages", "release", str(held["id"]))
    assert f"message {held['id']} released: document {doc['id']} number 1" in out.stdout
    replies = wait_replies(smarthost, first_id, 2)
    assert [("arrived", None, None), ("accepted", None, "1")] == [
        status_of(m) for m in replies
    ]
    assert str(doc["id"]) == replies[1].message["X-Mailbridge-Document-Id"]
    [doc] = documents(box)
    assert (1, "accepted") == (doc["incoming_number"], doc["status"])
    history = doc["history"]
    assert ({"arrived"}, "accepted", "clerk") == (
        {h["status"] for h in history[:-1]},
        history[-1]["status"],
        history[-1]["actor"],
    )
    assert any("unreadable" in (h["note"] or "") for h in history[:-1]), history
    assert "accepted" == message_row(box, first_id)["verdict"]

    second_id = "<scan-2@phanrang.example.vn>"
    send(
        box,
        mail(
            box, scanned_pdfs[1], subject="Công văn 913-CV/VPTU", message_id=second_id
        ),
    )
    wait_replies(smarthost, second_id, 1)
    held = message_row(box, second_id)
    assert "held" == held["verdict"]
    cli(box, "messages", "return", str(held["id"]), "--reason", "RULE")
    replies = wait_replies(smarthost, second_id, 2)
    assert [("arrived", None, None), ("returned", "RULE", None)] == [
        status_of(m) for m in replies
    ]
    returned = {d["id"]: d for d in documents(box)}[held["document_id"]]
    assert ("returned", None) == (returned["status"], returned["incoming_number"])
    row = message_row(box, second_id)
    assert ("returned", "RULE") == (row["verdict"], row["reason"])


def test_rules_over_smtp_and_sighup_reload(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    rules_dir: Path,
    e2e_pki: TestPki,
    signed_pdf: bytes,
) -> None:
    """reject/route/hold rules apply over SMTP; a broken file on SIGHUP keeps the old
    rules; a valid changed file on SIGHUP applies."""
    box = sandbox
    rule_file = rules_dir / "50-thu-nghiem.yaml"
    rule_file.write_text(RULES, "utf-8")
    running = start_bridge()

    send(box, mail(box, signed_pdf, subject="Quảng cáo in ấn", message_id="<r1@x>"))
    [reply] = wait_replies(smarthost, "<r1@x>", 1)
    assert ("returned", "RULE", None) == status_of(reply)
    assert "tra-lai-quang-cao" in text_of(reply.message)

    subject = "Chuẩn bị Đại hội Đảng bộ phường"
    send(box, mail(box, signed_pdf, subject=subject, message_id="<r2@x>"))
    [reply] = wait_replies(smarthost, "<r2@x>", 1)
    assert ("accepted", None, "1") == status_of(reply)
    [doc] = documents(box)
    deadline = datetime.fromisoformat(doc["deadline"])
    received = datetime.fromisoformat(doc["received_at"])
    assert ("ban-to-chuc", ["dai-hoi", "uu-tien"], timedelta(hours=6)) == (
        doc["route_to"],
        doc["tags"],
        deadline - received,
    )
    assert doc["deadline"].endswith("+07:00")

    other = signed_spec(e2e_pki, "921-CV/VPTU")
    send(box, mail(box, other, subject="Đề nghị kiểm tra hồ sơ", message_id="<r3@x>"))
    [reply] = wait_replies(smarthost, "<r3@x>", 1)
    assert ("arrived", None, None) == status_of(reply)
    row = message_row(box, "<r3@x>")
    assert "held" == row["verdict"]
    held = {d["id"]: d for d in documents(box)}[row["document_id"]]
    assert ("arrived", None) == (held["status"], held["incoming_number"])

    rule_file.write_text("rules:\n  - name: [hỏng\n    when: {\n", "utf-8")
    running.proc.send_signal(signal.SIGHUP)
    assert running.wait_log("reload refused", timeout=10), running.log_text()
    send(box, mail(box, signed_pdf, subject="Quảng cáo lần hai", message_id="<r4@x>"))
    [reply] = wait_replies(smarthost, "<r4@x>", 1)
    assert ("returned", "RULE", None) == status_of(reply)
    assert "tra-lai-quang-cao" in text_of(reply.message)

    rule_file.write_text(
        RULES.replace("tra-lai-quang-cao", "tra-lai-khuyen-mai").replace(
            "quảng cáo", "khuyến mại"
        ),
        "utf-8",
    )
    running.proc.send_signal(signal.SIGHUP)
    assert running.wait_log("reloaded", timeout=10), running.log_text()
    send(box, mail(box, signed_pdf, subject="Khuyến mại cuối năm", message_id="<r5@x>"))
    [reply] = wait_replies(smarthost, "<r5@x>", 1)
    assert ("returned", "RULE", None) == status_of(reply)
    assert "tra-lai-khuyen-mai" in text_of(reply.message)
    verdicts = [(m["message_id"], m["verdict"], m["reason"]) for m in messages(box)]
    assert [
        ("r1@x", "returned", "RULE"),
        ("r2@x", "accepted", None),
        ("r3@x", "held", None),
        ("r4@x", "returned", "RULE"),
        ("r5@x", "returned", "RULE"),
    ] == sorted(verdicts)
    assert 0 == running.stop(), running.log_text()


def test_rules_test_prints_the_trace_and_changes_nothing(
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    rules_dir: Path,
    signed_pdf: bytes,
    tmp_path: Path,
) -> None:
    """``rules test`` names every check and rule with hit/miss and the verdict, in text
    and JSON; nothing is registered, spooled or sent."""
    (rules_dir / "50-thu-nghiem.yaml").write_text(RULES, "utf-8")
    eml = tmp_path / "quang-cao.eml"
    eml.write_bytes(
        mail(sandbox, signed_pdf, subject="Quảng cáo in ấn", message_id="<t1@x>")
    )
    out = cli(sandbox, "rules", "test", str(eml))
    lines = [line.split(None, 2) for line in out.stdout.splitlines()]
    checks = [c.name for c in BUILTIN_CHECKS]
    expected_trace = [
        *(["miss", "check", name] for name in checks),
        ["HIT", "rule", RULE_NAMES[0]],
        ["miss", "rule", RULE_NAMES[1]],
        ["miss", "rule", RULE_NAMES[2]],
    ]
    trace = [[mark, kind, rest.split()[0]] for mark, kind, rest in lines[:-1]]
    assert expected_trace == trace, out.stdout
    assert "verdict: returned RULE" == out.stdout.splitlines()[-1]

    shown = json.loads(cli(sandbox, "rules", "test", str(eml), "--json").stdout)
    assert ("returned", "RULE", RULE_NAMES[0]) == (
        shown["verdict"],
        shown["reason"],
        shown["rule"],
    )
    assert [(e[1], e[2], e[0] == "HIT") for e in expected_trace] == [
        (t["kind"], t["name"], t["hit"]) for t in shown["trace"]
    ]
    time.sleep(0.5)  # a mail the dry run sent, if any, would have arrived
    spooled = [p.name for p in sandbox.data_dir.rglob("*.eml")]
    assert ([], [], []) == (messages(sandbox), smarthost.mails, spooled)


@pytest.mark.clamav
def test_clamav_finds_eicar(
    start_bridge: StartBridge,
    sandbox: Sandbox,
    smarthost: CaptureSmarthost,
    clamd: Clamd,
    signed_pdf: bytes,
) -> None:
    """With clamd enabled, an EICAR attachment named .txt is returned MALWARE."""
    config = sandbox.config()
    config["clamav"] = {"enabled": True, "address": clamd.unix}
    sandbox.write_config(config)
    running = start_bridge()
    send(
        sandbox,
        mail(
            sandbox,
            signed_pdf,
            subject="Công văn 917-CV/VPTU kèm ghi chú",
            message_id="<eicar@phanrang.example.vn>",
            extra=(("eicar.txt", "text/plain", EICAR),),
        ),
    )
    [reply] = wait_replies(smarthost, "<eicar@phanrang.example.vn>", 1)
    assert ("returned", "MALWARE", None) == status_of(reply), running.log_text()
    [row] = wait_messages(sandbox, 1)
    assert ("returned", "MALWARE", None) == (
        row["verdict"],
        row["reason"],
        row["document_id"],
    )
    assert [] == documents(sandbox)
    assert 0 == running.stop(), running.log_text()


def test_executable_attachment_is_banned(
    bridge: RunningBridge, smarthost: CaptureSmarthost, signed_pdf: bytes
) -> None:
    """An attachment named x.pdf.exe returns the whole message BANNED_ATTACHMENT."""
    box = bridge.sandbox
    send(
        box,
        mail(
            box,
            signed_pdf,
            subject="Công văn 917-CV/VPTU kèm phần mềm",
            message_id="<exe@phanrang.example.vn>",
            extra=(("x.pdf.exe", "application/octet-stream", b"MZ\x90\x00" * 64),),
        ),
    )
    [reply] = wait_replies(smarthost, "<exe@phanrang.example.vn>", 1)
    assert ("returned", "BANNED_ATTACHMENT", None) == status_of(reply)
    [row] = messages(box)
    assert ("returned", "BANNED_ATTACHMENT") == (row["verdict"], row["reason"])
    assert [] == documents(box)
