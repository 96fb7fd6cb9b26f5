"""The durable spool: what lies on disk after put, claim, done, delay, quarantine, recover."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from mailbridge.errors import SpoolError
from mailbridge.spool import Envelope, Spool

RAW = (
    "From: Văn thư <vanthu@so-tc.example.vn>\r\n"
    "To: vanthu@bridge.example.vn\r\n"
    "Subject: Công văn 917-CV/VPTU\r\n"
    "\r\n"
    "Kính gửi văn phòng.\r\n"
).encode()

#: what an empty folder lists
NO_FILES: list[str] = []


def envelope(**changes: object) -> Envelope:
    """The envelope of a mail from an agency clerk to the bridge."""
    data: dict[str, object] = {
        "mail_from": "vanthu@so-tc.example.vn",
        "rcpt_tos": ("vanthu@bridge.example.vn",),
        "received_at": "2026-11-22T09:15:00+07:00",
    }
    data.update(changes)
    return Envelope(**data)  # type: ignore[arg-type]  # test data, checked by the dataclass


def files(folder: Path) -> list[str]:
    """File names in ``folder``, sorted."""
    return sorted(p.name for p in folder.iterdir())


def test_put_leaves_the_message_and_its_sidecar_in_new(tmp_path: Path) -> None:
    """After put, new/ holds ID.eml with the exact bytes and ID.json; tmp/ is empty."""
    spool = Spool(tmp_path / "spool")

    spool_id = spool.put(RAW, envelope(peer="127.0.0.1", helo="clerk.example.vn"))

    expected_files = ([f"{spool_id}.eml", f"{spool_id}.json"], NO_FILES)
    assert expected_files == (files(spool.new), files(spool.tmp))
    stored = RAW
    assert stored == (spool.new / f"{spool_id}.eml").read_bytes()
    expected = {
        "mail_from": "vanthu@so-tc.example.vn",
        "rcpt_tos": ["vanthu@bridge.example.vn"],
        "received_at": "2026-11-22T09:15:00+07:00",
        "source": "smtp",
        "peer": "127.0.0.1",
        "helo": "clerk.example.vn",
        "priority": 0,
        "attempts": 0,
        "not_before": 0.0,
        "error": None,
        "extra": {},
        "schema_version": 1,
    }
    assert expected == json.loads((spool.new / f"{spool_id}.json").read_text("utf-8"))
    assert [spool_id] == spool.pending()


def test_put_that_cannot_write_raises_and_leaves_nothing(tmp_path: Path) -> None:
    """A broken new/ folder makes put raise SpoolError; no half message stays in tmp/."""
    spool = Spool(tmp_path / "spool")
    spool.new.rmdir()
    spool.new.write_bytes(b"not a folder")

    with pytest.raises(SpoolError, match="cannot store message"):
        spool.put(RAW, envelope())

    leftovers: list[str] = []
    assert leftovers == files(spool.tmp)


def test_sidecar_from_a_newer_mailbridge_is_refused(tmp_path: Path) -> None:
    """A sidecar with a schema_version above ours is not read as if it were ours."""
    data = envelope().to_json()
    data["schema_version"] = 99

    with pytest.raises(SpoolError, match="schema 99 is newer"):
        Envelope.from_json(data)


def test_claim_moves_to_work_and_done_removes(tmp_path: Path) -> None:
    """claim hands out the message once (moved to work/); done removes both files."""
    spool = Spool(tmp_path / "spool")
    spool_id = spool.put(RAW, envelope())

    item = spool.claim()

    assert item is not None
    expected = (spool_id, RAW, "vanthu@so-tc.example.vn")
    assert expected == (item.spool_id, item.read(), item.envelope.mail_from)
    expected_files = ([f"{spool_id}.eml", f"{spool_id}.json"], NO_FILES)
    assert expected_files == (files(spool.work), files(spool.new))
    assert spool.claim() is None

    spool.done(item)

    expected_after: tuple[list[str], int] = ([], 0)
    assert expected_after == (files(spool.work), len(spool))


def test_claim_takes_higher_priority_first_then_oldest(tmp_path: Path) -> None:
    """An urgent (hỏa tốc) message overtakes; equal priorities go in arrival order."""
    spool = Spool(tmp_path / "spool")
    first = spool.put(RAW, envelope(), spool_id="00000000000000000001-a")
    second = spool.put(RAW, envelope(), spool_id="00000000000000000002-b")
    urgent = spool.put(RAW, envelope(priority=3), spool_id="00000000000000000003-c")

    order = []
    for _ in range(4):
        item = spool.claim()
        if item is None:
            break
        order.append(item.spool_id)

    assert [urgent, first, second] == order


def test_done_with_scrub_overwrites_the_bytes_before_unlinking(tmp_path: Path) -> None:
    """done(scrub=True) zeroes the content on disk: a hard link shows only zeros."""
    spool = Spool(tmp_path / "spool")
    spool_id = spool.put(RAW, envelope())
    item = spool.claim()
    assert item is not None
    eml_link = tmp_path / "eml-link"
    json_link = tmp_path / "json-link"
    os.link(spool.work / f"{spool_id}.eml", eml_link)
    os.link(spool.work / f"{spool_id}.json", json_link)
    sidecar_size = json_link.stat().st_size

    spool.done(item, scrub=True)

    expected = (NO_FILES, b"\0" * len(RAW), b"\0" * sidecar_size)
    assert expected == (
        files(spool.work),
        eml_link.read_bytes(),
        json_link.read_bytes(),
    )


def test_done_without_scrub_only_unlinks(tmp_path: Path) -> None:
    """A plain done leaves other links to the content alone (scrubbing is opt-in)."""
    spool = Spool(tmp_path / "spool")
    spool_id = spool.put(RAW, envelope())
    item = spool.claim()
    assert item is not None
    link = tmp_path / "eml-link"
    os.link(spool.work / f"{spool_id}.eml", link)

    spool.done(item)

    expected = RAW
    assert expected == link.read_bytes()


def test_delayed_message_waits_until_its_time(tmp_path: Path) -> None:
    """A delayed message stays in new/ but is not claimed before not_before."""
    spool = Spool(tmp_path / "spool")
    spool_id = spool.put(RAW, envelope())
    item = spool.claim()
    assert item is not None
    before = time.time()

    spool.delay(item, seconds=600, error="DNS timeout")

    expected_files = ([f"{spool_id}.eml", f"{spool_id}.json"], NO_FILES)
    assert expected_files == (files(spool.new), files(spool.work))
    assert spool.claim() is None
    assert spool.claim(now=before + 599) is None
    wakeup = spool.next_wakeup()
    assert wakeup is not None
    assert before + 600 <= wakeup <= time.time() + 600
    again = spool.claim(now=wakeup + 1)
    assert again is not None
    expected = (spool_id, "DNS timeout", RAW)
    assert expected == (again.spool_id, again.envelope.error, again.read())


def test_quarantine_moves_to_bad_with_the_error(tmp_path: Path) -> None:
    """A message that crashed the pipeline lands in bad/ with the error in its sidecar."""
    spool = Spool(tmp_path / "spool")
    spool_id = spool.put(RAW, envelope())
    item = spool.claim()
    assert item is not None

    target = spool.quarantine(item, "ValueError: broken MIME")

    expected = (spool.bad / f"{spool_id}.eml", RAW)
    assert expected == (target, target.read_bytes())
    expected_files = ([f"{spool_id}.eml", f"{spool_id}.json"], NO_FILES)
    assert expected_files == (files(spool.bad), files(spool.work))
    assert [(spool_id, "ValueError: broken MIME")] == [
        (sid, env.error) for sid, env in spool.quarantined()
    ]


def test_recover_puts_claimed_messages_back_and_counts_attempts(tmp_path: Path) -> None:
    """After a crash, a restart's recover() returns claimed files to new/, attempts+1."""
    root = tmp_path / "spool"
    spool = Spool(root)
    ids = [spool.put(RAW, envelope()) for _ in range(2)]
    assert spool.claim() is not None
    assert spool.claim() is not None
    (spool.tmp / "half-written.eml").write_bytes(b"From: x")
    # the process dies here; a new one starts on the same folder

    restarted = Spool(root, max_attempts=3)
    recovered = restarted.recover()

    expected = (2, NO_FILES, NO_FILES, ids)
    assert expected == (
        recovered,
        files(restarted.tmp),
        files(restarted.work),
        restarted.pending(),
    )
    attempts = [
        json.loads((root / "new" / f"{i}.json").read_text("utf-8"))["attempts"]
        for i in ids
    ]
    assert [1] * len(ids) == attempts


def test_message_that_keeps_killing_the_worker_is_quarantined(tmp_path: Path) -> None:
    """Claimed and interrupted max_attempts times, a message goes to bad/, not new/."""
    root = tmp_path / "spool"
    spool_id = Spool(root).put(RAW, envelope())

    recovered = []
    for _ in range(3):
        spool = Spool(root, max_attempts=3)
        assert spool.claim() is not None
        recovered.append(Spool(root, max_attempts=3).recover())

    spool = Spool(root, max_attempts=3)
    expected = ([1, 1, 0], NO_FILES, RAW)
    assert expected == (
        recovered,
        spool.pending(),
        (spool.bad / f"{spool_id}.eml").read_bytes(),
    )
    assert [(spool_id, 3, "interrupted 3 times while processing")] == [
        (sid, env.attempts, env.error) for sid, env in spool.quarantined()
    ]


def _claim_all(spool: Spool, out: list[str]) -> None:
    """Claim until the spool is empty, recording each id (bounded by the count put)."""
    for _ in range(1000):
        item = spool.claim()
        if item is None:
            return
        out.append(item.spool_id)
        spool.done(item)


def test_two_threads_never_claim_the_same_message(tmp_path: Path) -> None:
    """Four threads draining one spool together get every message exactly once."""
    spool = Spool(tmp_path / "spool")
    ids = sorted(spool.put(RAW, envelope()) for _ in range(60))
    claimed: list[list[str]] = [[] for _ in range(4)]
    threads = [
        threading.Thread(target=_claim_all, args=(Spool(spool.root), out))
        for out in claimed
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    alive = [t.is_alive() for t in threads]
    assert [False] * len(threads) == alive
    everything = [spool_id for out in claimed for spool_id in out]
    assert ids == sorted(everything)
    assert len(ids) == len(set(everything))


def _claim_in_process(
    root: str, out: str, start: multiprocessing.synchronize.Event
) -> None:
    """Child process: wait for the start signal, drain the spool, write the ids."""
    start.wait(30)
    claimed: list[str] = []
    _claim_all(Spool(Path(root)), claimed)
    Path(out).write_text("\n".join(claimed), "utf-8")


def test_two_processes_never_claim_the_same_message(tmp_path: Path) -> None:
    """Workers in separate OS processes share one spool without double claims."""
    spool = Spool(tmp_path / "spool")
    ids = sorted(spool.put(RAW, envelope()) for _ in range(60))
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    outs = [tmp_path / f"claimed-{n}.txt" for n in range(4)]
    procs = [
        ctx.Process(target=_claim_in_process, args=(str(spool.root), str(out), start))
        for out in outs
    ]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=60)

    exit_codes = [proc.exitcode for proc in procs]
    assert [0] * len(procs) == exit_codes
    everything = [
        line for out in outs for line in out.read_text("utf-8").splitlines() if line
    ]
    assert ids == sorted(everything)
    assert len(ids) == len(set(everything))


@pytest.mark.parametrize(
    ("eml_in", "json_in", "ends_in"),
    [
        ("new", "work", "new"),  # claim: the sidecar moved, the .eml not yet
        ("work", "new", "new"),  # delay or recover: the sidecar went back first
        ("work", "bad", "bad"),  # quarantine: the sidecar reached bad/ first
    ],
    ids=["claim", "delay", "quarantine"],
)
def test_recover_reunites_a_message_split_by_a_crash(
    tmp_path: Path, eml_in: str, json_in: str, ends_in: str
) -> None:
    """A crash between the two renames of a move loses neither message nor envelope."""
    root = tmp_path / "spool"
    spool = Spool(root)
    spool_id = spool.put(RAW, envelope(mail_from="clerk@so-tc.example.vn"))
    os.replace(root / "new" / f"{spool_id}.eml", root / eml_in / f"{spool_id}.eml")
    os.replace(root / "new" / f"{spool_id}.json", root / json_in / f"{spool_id}.json")

    Spool(root).recover()

    expected = [f"{spool_id}.eml", f"{spool_id}.json"]
    assert expected == files(root / ends_in)
    stored = json.loads((root / ends_in / f"{spool_id}.json").read_text("utf-8"))
    assert "clerk@so-tc.example.vn" == stored["mail_from"]
    if ends_in == "new":
        item = Spool(root).claim()
        assert item is not None
        assert (spool_id, RAW) == (item.spool_id, item.read())
