"""``mailbridge ingest``: .eml files, mbox files and Maildir folders through the same
spool and pipeline as SMTP, replies sent to the smarthost by ingest itself (issue 2)."""

from __future__ import annotations

import mailbox
import subprocess
from pathlib import Path

import pytest

from mailbridge.sample.capture import CaptureSmarthost
from mailbridge.sample.mail import document_mail, minimal_pdf, to_bytes
from mailbridge.sample.sandbox import AGENCY, Sandbox

from .conftest import cli, documents, messages

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENCY_RETURN_PATH = f"<{AGENCY['addresses'][0]}>"


def delivered(
    box: Sandbox, number: int, *, return_path: str | None = AGENCY_RETURN_PATH
) -> bytes:
    """A DKIM-signed agency mail as a mailbox keeps it: ``Return-Path`` on top.

    ``return_path=None`` gives the mail as a clerk saves it from a mail program.
    """
    msg = document_mail(
        sender=box.agency_address,
        recipient=box.bridge_address,
        subject=f"Công văn số {number}/UBND-VP về việc tổ chức hội nghị",
        pdf=minimal_pdf(f"Cong van so {number}/UBND-VP ve viec to chuc hoi nghi"),
        message_id=f"<ingest-{number}@phanrang.example.vn>",
    )
    signed = box.agency_signer.sign(to_bytes(msg))
    if return_path is None:
        return signed
    return f"Return-Path: {return_path}\r\n".encode() + signed


def ingest(box: Sandbox, *paths: Path) -> subprocess.CompletedProcess[str]:
    return cli(box, "ingest", *(str(p) for p in paths), check=False)


def replies(capture: CaptureSmarthost, count: int) -> list[tuple[str, str, str]]:
    """(In-Reply-To, status, incoming number) of the first ``count`` replies."""
    return [
        (
            str(m.message["In-Reply-To"]),
            str(m.message["X-Mailbridge-Status"]),
            str(m.message["X-Mailbridge-Incoming-Number"]),
        )
        for m in capture.wait_for(count, timeout=60)
    ]


def test_eml_mbox_and_maildir_are_registered_and_answered(
    sandbox: Sandbox, smarthost: CaptureSmarthost, tmp_path: Path
) -> None:
    """One .eml, an mbox of 3 and a Maildir of 2: numbers 1..6, six replies, progress.

    The .eml has no ``Return-Path`` (saved from a mail program): its From is answered.
    """
    eml = tmp_path / "one.eml"
    eml.write_bytes(delivered(sandbox, 1, return_path=None))
    mbox_path = tmp_path / "hop-thu.mbox"
    box = mailbox.mbox(mbox_path, create=True)
    for number in (2, 3, 4):
        box.add(delivered(sandbox, number))
    box.close()
    maildir_path = tmp_path / "Maildir"
    folder = mailbox.Maildir(maildir_path, create=True)
    for number in (5, 6):
        folder.add(delivered(sandbox, number))
    folder.close()

    first = ingest(sandbox, eml)
    assert 0 == first.returncode, first.stderr
    assert "ingested 1 message(s): accepted: 1" == first.stdout.strip(), first.stderr
    assert f"spooled {eml} as " in first.stderr
    assert "[1/1] " in first.stderr
    second = ingest(sandbox, mbox_path, maildir_path)
    assert 0 == second.returncode, second.stderr
    assert "ingested 5 message(s): accepted: 5" == second.stdout.strip(), second.stderr
    for index in (1, 2, 3):
        assert f"spooled {mbox_path}#{index} as " in second.stderr
    assert 2 == second.stderr.count(f"spooled {maildir_path}#")
    assert "[5/5] " in second.stderr

    docs = sorted(documents(sandbox), key=lambda d: d["incoming_number"])
    assert [(n, f"ingest-{n}@phanrang.example.vn") for n in range(1, 7)] == [
        (d["incoming_number"], d["message_id"]) for d in docs
    ]
    assert ["accepted"] * 6 == [d["status"] for d in docs]
    sources = sorted(m["source"].split(":")[0] for m in messages(sandbox))
    assert ["ingest"] * 6 == sources
    answered = sorted(replies(smarthost, 6), key=lambda r: int(r[2]))
    assert [
        (f"<ingest-{n}@phanrang.example.vn>", "accepted", str(n)) for n in range(1, 7)
    ] == answered
    assert [[sandbox.agency_address]] * 6 == [list(m.rcpt_tos) for m in smarthost.mails]


def test_same_message_twice_is_registered_once(
    sandbox: Sandbox, smarthost: CaptureSmarthost, tmp_path: Path
) -> None:
    """Ingesting one message twice: one document, and a second reply marked duplicate."""
    eml = tmp_path / "cv.eml"
    eml.write_bytes(delivered(sandbox, 7))
    assert 0 == ingest(sandbox, eml).returncode
    again = ingest(sandbox, eml)
    assert 0 == again.returncode, again.stderr
    assert "ingested 1 message(s): duplicate: 1" == again.stdout.strip(), again.stderr
    [doc] = documents(sandbox)
    assert 1 == doc["incoming_number"]
    assert ["accepted", "duplicate"] == sorted(m["verdict"] for m in messages(sandbox))
    mails = smarthost.wait_for(2, timeout=60)
    assert [(None, "1"), ("yes", "1")] == [
        (m.message["X-Mailbridge-Duplicate"], m.message["X-Mailbridge-Incoming-Number"])
        for m in mails
    ]


def test_missing_path_exits_1(
    sandbox: Sandbox, smarthost: CaptureSmarthost, tmp_path: Path
) -> None:
    """A path that does not exist: exit 1, its name and why on stderr, nothing registered."""
    missing = tmp_path / "khong-co.mbox"
    result = ingest(sandbox, missing)
    assert 1 == result.returncode
    assert f"mailbridge: {missing}: no such file or folder" in result.stderr
    assert [] == messages(sandbox)
    assert [] == smarthost.mails


def test_a_bounce_in_a_file_gets_no_reply(
    sandbox: Sandbox, smarthost: CaptureSmarthost, tmp_path: Path
) -> None:
    """``Return-Path: <>`` and ``Auto-Submitted`` mail is registered, not answered."""
    mbox_path = tmp_path / "tra-ve.mbox"
    box = mailbox.mbox(mbox_path, create=True)
    box.add(delivered(sandbox, 8, return_path="<>"))
    auto = delivered(sandbox, 9)
    box.add(b"Auto-Submitted: auto-generated\r\n" + auto)
    box.add(delivered(sandbox, 10))
    box.close()
    result = ingest(sandbox, mbox_path)
    assert 0 == result.returncode, result.stderr
    assert "ingested 3 message(s): accepted: 3" == result.stdout.strip(), result.stderr
    assert [3] == [len(documents(sandbox))]
    # ingest hands every reply to the smarthost before it exits
    assert [("<ingest-10@phanrang.example.vn>", [sandbox.agency_address])] == [
        (m.message["In-Reply-To"], list(m.rcpt_tos)) for m in smarthost.mails
    ]
