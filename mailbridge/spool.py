"""The durable spool: a message is on disk, fsync'ed, before anyone says ``250``.

Layout under ``data_dir/spool``::

    tmp/    being written (ignored and cleaned at start-up)
    new/    ready: ``ID.eml`` (the raw bytes) and ``ID.json`` (the envelope sidecar)
    work/   claimed by a worker
    bad/    quarantined after a crash or too many attempts, with the error in the sidecar

``put`` writes both files in ``tmp/``, fsyncs them, renames the sidecar and then the
``.eml`` into ``new/`` and fsyncs the directory: a ``.eml`` in ``new/`` is always
complete and always has its sidecar. ``claim`` is a rename, so two workers (or a
``mailbridge ingest`` beside a running ``serve``) never take the same file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from mailbridge.errors import SpoolError

__all__ = ["Envelope", "Spool", "SpoolItem"]

log = logging.getLogger("mailbridge.spool")

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Envelope:
    """What the transport knew about a message besides its bytes."""

    mail_from: str | None
    rcpt_tos: tuple[str, ...]
    received_at: str  # ISO 8601, Vietnam time
    source: str = "smtp"  # smtp | imap:<name> | ingest:<path>
    peer: str | None = None
    helo: str | None = None
    #: processing order hint: higher first (urgency read from the subject at receipt)
    priority: int = 0
    attempts: int = 0
    not_before: float = 0.0  # epoch seconds: a delayed message waits until then
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rcpt_tos"] = list(self.rcpt_tos)
        data["schema_version"] = SCHEMA_VERSION
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Envelope:
        data = dict(data)
        version = data.pop("schema_version", SCHEMA_VERSION)
        if version > SCHEMA_VERSION:
            raise SpoolError(
                f"spool sidecar schema {version} is newer than this mailbridge"
            )
        data["rcpt_tos"] = tuple(data.get("rcpt_tos", ()))
        return cls(**data)


@dataclass(frozen=True)
class SpoolItem:
    """A claimed message: its id, envelope and where its bytes are."""

    spool_id: str
    envelope: Envelope
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def new_spool_id() -> str:
    """A time-ordered unique id: sorting ids sorts by arrival."""
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:12]}"


class Spool:
    """A durable queue of raw messages in a folder."""

    def __init__(self, root: Path, *, max_attempts: int = 3) -> None:
        self.root = root
        self.max_attempts = max_attempts
        self.tmp = root / "tmp"
        self.new = root / "new"
        self.work = root / "work"
        self.bad = root / "bad"
        for folder in (self.tmp, self.new, self.work, self.bad):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    # -- writing ---------------------------------------------------------------------
    def put(self, raw: bytes, envelope: Envelope, spool_id: str | None = None) -> str:
        """Store ``raw`` durably; return its spool id. Raise SpoolError if it cannot."""
        spool_id = spool_id or new_spool_id()
        tmp_eml = self.tmp / f"{spool_id}.eml"
        tmp_json = self.tmp / f"{spool_id}.json"
        try:
            _write_synced(tmp_json, json.dumps(envelope.to_json()).encode("utf-8"))
            _write_synced(tmp_eml, raw)
            _fsync_dir(self.tmp)
            os.replace(tmp_json, self.new / tmp_json.name)
            os.replace(tmp_eml, self.new / tmp_eml.name)
            _fsync_dir(self.new)
        except OSError as exc:
            for leftover in (tmp_eml, tmp_json):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise SpoolError(f"cannot store message {spool_id}: {exc}") from exc
        log.info(
            "spool_id=%s stored %d bytes from %s", spool_id, len(raw), envelope.source
        )
        return spool_id

    # -- reading ---------------------------------------------------------------------
    def _sidecar(self, eml: Path) -> Path:
        return eml.with_suffix(".json")

    def _read_envelope(self, eml: Path) -> Envelope:
        return Envelope.from_json(json.loads(self._sidecar(eml).read_text("utf-8")))

    def _write_envelope(self, eml: Path, envelope: Envelope) -> None:
        sidecar = self._sidecar(eml)
        tmp = self.tmp / f"{sidecar.name}.{uuid.uuid4().hex[:6]}"
        _write_synced(tmp, json.dumps(envelope.to_json()).encode("utf-8"))
        os.replace(tmp, sidecar)
        _fsync_dir(sidecar.parent)

    def pending(self) -> list[str]:
        """Ids waiting in ``new/``, oldest first."""
        return sorted(p.stem for p in self.new.glob("*.eml"))

    def __len__(self) -> int:
        return len(self.pending())

    def claim(self, *, now: float | None = None) -> SpoolItem | None:
        """Take the next ready message (highest priority, then oldest); None if none."""
        now = time.time() if now is None else now
        candidates: list[tuple[int, str, Envelope]] = []
        for spool_id in self.pending():
            eml = self.new / f"{spool_id}.eml"
            try:
                envelope = self._read_envelope(eml)
            except (OSError, ValueError, TypeError, SpoolError):
                continue  # taken by another worker meanwhile, or a sidecar being replaced
            if envelope.not_before > now:
                continue
            candidates.append((-envelope.priority, spool_id, envelope))
        for _prio, spool_id, envelope in sorted(candidates, key=lambda c: (c[0], c[1])):
            src = self.new / f"{spool_id}.eml"
            dst = self.work / f"{spool_id}.eml"
            try:
                os.replace(self._sidecar(src), self._sidecar(dst))
            except FileNotFoundError:
                continue  # another worker won the race
            try:
                os.replace(src, dst)
            except FileNotFoundError:
                # the pair moved meanwhile (a delay or recover in another process):
                # give the sidecar back and leave the message to whoever has it
                with contextlib.suppress(FileNotFoundError):
                    os.replace(self._sidecar(dst), self._sidecar(src))
                continue
            return SpoolItem(spool_id, envelope, dst)
        return None

    def next_wakeup(self) -> float | None:
        """Epoch seconds when the earliest delayed message becomes ready."""
        times = []
        for spool_id in self.pending():
            with contextlib.suppress(OSError, ValueError, TypeError, SpoolError):
                times.append(
                    self._read_envelope(self.new / f"{spool_id}.eml").not_before
                )
        return min(times) if times else None

    # -- finishing -------------------------------------------------------------------
    def done(self, item: SpoolItem, *, scrub: bool = False) -> None:
        """Remove a processed message; ``scrub`` overwrites its bytes first."""
        for path in (item.path, self._sidecar(item.path)):
            if scrub:
                _scrub(path)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        _fsync_dir(self.work)

    def delay(self, item: SpoolItem, *, seconds: float, error: str) -> None:
        """Put a message back to wait ``seconds`` (a temporary failure)."""
        envelope = replace(item.envelope, not_before=time.time() + seconds, error=error)
        self._write_envelope(item.path, envelope)
        os.replace(self._sidecar(item.path), self.new / f"{item.spool_id}.json")
        os.replace(item.path, self.new / f"{item.spool_id}.eml")
        _fsync_dir(self.new)

    def quarantine(self, item: SpoolItem, error: str) -> Path:
        """Move a message that crashed the pipeline to ``bad/`` with its error."""
        envelope = replace(item.envelope, error=error)
        self._write_envelope(item.path, envelope)
        os.replace(self._sidecar(item.path), self.bad / f"{item.spool_id}.json")
        target = self.bad / f"{item.spool_id}.eml"
        os.replace(item.path, target)
        _fsync_dir(self.bad)
        log.error("spool_id=%s quarantined: %s", item.spool_id, error)
        return target

    def recover(self) -> int:
        """At start-up: put claimed messages back, counting the attempt.

        A message claimed ``max_attempts`` times without finishing is quarantined: it is
        the one that kills the process.
        """
        for leftover in self.tmp.iterdir():
            with contextlib.suppress(OSError):
                leftover.unlink()
        self._reunite()
        recovered = 0
        for eml in sorted(self.work.glob("*.eml")):
            try:
                envelope = self._read_envelope(eml)
            except (OSError, ValueError, TypeError, SpoolError) as exc:
                envelope = Envelope(None, (), "", error=f"unreadable sidecar: {exc}")
            envelope = replace(envelope, attempts=envelope.attempts + 1)
            item = SpoolItem(eml.stem, envelope, eml)
            if envelope.attempts >= self.max_attempts:
                self.quarantine(
                    item, f"interrupted {envelope.attempts} times while processing"
                )
                continue
            self._write_envelope(eml, envelope)
            os.replace(self._sidecar(eml), self.new / f"{eml.stem}.json")
            os.replace(eml, self.new / eml.name)
            recovered += 1
        if recovered:
            _fsync_dir(self.new)
            log.warning("recovered %d message(s) claimed before a restart", recovered)
        return recovered

    def _reunite(self) -> None:
        """Finish a move that a crash cut between its two renames (sidecar goes first).

        A sidecar in ``work/`` whose ``.eml`` is still in ``new/`` is an interrupted
        claim: the sidecar goes back. A ``.eml`` in ``work/`` whose sidecar already
        reached ``new/`` or ``bad/`` (delay, recover, quarantine) follows its sidecar.
        """
        for sidecar in sorted(self.work.glob("*.json")):
            eml_name = f"{sidecar.stem}.eml"
            if not (self.work / eml_name).exists() and (self.new / eml_name).exists():
                os.replace(sidecar, self.new / sidecar.name)
        for eml in sorted(self.work.glob("*.eml")):
            if self._sidecar(eml).exists():
                continue
            for folder in (self.new, self.bad):
                if (folder / f"{eml.stem}.json").exists():
                    os.replace(eml, folder / eml.name)
                    log.warning("spool_id=%s move finished after a restart", eml.stem)
                    break
        for folder in (self.new, self.bad):
            _fsync_dir(folder)

    def quarantined(self) -> Iterator[tuple[str, Envelope]]:
        for eml in sorted(self.bad.glob("*.eml")):
            with contextlib.suppress(OSError, ValueError, TypeError, SpoolError):
                yield eml.stem, self._read_envelope(eml)


def _scrub(path: Path) -> None:
    """Overwrite a file with zeros and fsync it, so its content leaves the disk."""
    try:
        size = path.stat().st_size
        fd = os.open(path, os.O_WRONLY)
    except FileNotFoundError:
        return
    try:
        os.write(fd, b"\0" * size)
        os.fsync(fd)
    finally:
        os.close(fd)
