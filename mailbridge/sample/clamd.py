"""A throwaway clamd for tests: a real scanner with one local EICAR signature.

:func:`start_clamd` writes a ``clamd.conf`` and a signature database (the MD5 of
the EICAR test string) into a folder of the caller's, starts ``clamd`` in the
foreground listening on a unix socket in that folder and on a free loopback TCP
port, and waits until it answers ``PING``. No network and no downloaded virus
database are needed. :meth:`Clamd.stop` ends it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from mailbridge.sample.sandbox import free_port
from mailbridge.verify.clamav import ClamdScanner

__all__ = [
    "EICAR",
    "SIGNATURE",
    "STREAM_MAX",
    "Clamd",
    "ClamdNotInstalled",
    "clamd_binary",
    "start_clamd",
]

#: The EICAR anti-virus test string: harmless, found by every scanner.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#: The name of the local signature (clamd reports it with ``.UNOFFICIAL`` added).
SIGNATURE = "Mailbridge.Test.EICAR"
#: clamd's ``StreamMaxLength`` in the generated configuration.
STREAM_MAX = 1024 * 1024

_SBIN = ("/usr/sbin", "/usr/local/sbin")


class ClamdNotInstalled(FileNotFoundError):
    """No ``clamd`` program on PATH or in the usual sbin folders."""


def clamd_binary() -> str | None:
    """The path of the ``clamd`` program, or None when it is not installed."""
    return shutil.which("clamd") or shutil.which("clamd", path=os.pathsep.join(_SBIN))


@dataclass(frozen=True)
class Clamd:
    """A clamd started by :func:`start_clamd`: its process and its two addresses."""

    process: subprocess.Popen[bytes]
    folder: Path
    unix: str
    tcp: str

    @property
    def running(self) -> bool:
        """True while the clamd process has not exited."""
        return self.process.poll() is None

    def log_text(self) -> str:
        """What clamd wrote to its output so far."""
        out = self.folder / "clamd.out"
        return out.read_text("utf-8", "replace") if out.exists() else ""

    def stop(self) -> None:
        """Stop clamd and wait for it, bounded."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def _write_config(folder: Path, stream_max: int) -> tuple[Path, Path, int]:
    database = folder / "db"
    database.mkdir(parents=True, exist_ok=True)
    md5 = hashlib.md5(EICAR, usedforsecurity=False).hexdigest()
    (database / "mailbridge.hdb").write_text(
        f"{md5}:{len(EICAR)}:{SIGNATURE}\n", "utf-8"
    )
    sock = folder / "clamd.sock"
    port = free_port()
    config = folder / "clamd.conf"
    config.write_text(
        f"LocalSocket {sock}\nTCPSocket {port}\nTCPAddr 127.0.0.1\n"
        f"Foreground yes\nDatabaseDirectory {database}\n"
        f"LogFile {folder / 'clamd.log'}\nPidFile {folder / 'clamd.pid'}\n"
        f"StreamMaxLength {stream_max}\n",
        "utf-8",
    )
    return config, sock, port


def start_clamd(
    folder: Path, *, stream_max: int = STREAM_MAX, timeout: float = 60.0
) -> Clamd:
    """Start clamd with the EICAR signature in ``folder``; wait until it answers.

    Raises :class:`ClamdNotInstalled` when there is no clamd, and ``RuntimeError``
    (with clamd's output) when it does not answer within ``timeout`` seconds.
    """
    binary = clamd_binary()
    if binary is None:
        raise ClamdNotInstalled(
            "clamd is not installed (apt-get install clamav-daemon)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    config, sock, port = _write_config(folder, stream_max)
    with (folder / "clamd.out").open("wb") as log:
        process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    clamd = Clamd(process, folder, f"unix:{sock}", f"127.0.0.1:{port}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and clamd.running:
        if sock.exists() and asyncio.run(ClamdScanner(clamd.unix, timeout=2).ping()):
            return clamd
        time.sleep(0.2)
    clamd.stop()
    raise RuntimeError(f"clamd did not start:\n{clamd.log_text()}")
