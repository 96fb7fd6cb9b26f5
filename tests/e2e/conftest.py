"""Fixtures that start real bridges: ``mailbridge serve`` subprocesses on loopback.

``sandbox`` writes a throwaway configuration (test CA, keys, agency, free ports);
``smarthost`` captures what the bridge sends; ``bridge`` starts ``serve`` and stops
it with SIGTERM at the end, asserting it exits 0. Helpers send mail and read the
register through the command line, as a clerk or the central system would.
"""

from __future__ import annotations

import json
import os
import signal
import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mailbridge.demo import signed_sample_pdf, wait_for_port
from mailbridge.sample.capture import CaptureSmarthost
from mailbridge.sample.pki import TestPki, make_test_pki
from mailbridge.sample.sandbox import Sandbox, make_sandbox

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def e2e_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """One test CA chain for the whole session (key generation is slow)."""
    return make_test_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    """A rules folder of the test's own (empty unless the test writes rules)."""
    folder = tmp_path / "rules"
    folder.mkdir()
    return folder


@pytest.fixture
def sandbox(tmp_path: Path, e2e_pki: TestPki, rules_dir: Path) -> Sandbox:
    return make_sandbox(
        tmp_path / "bridge",
        templates_dir=REPO / "templates",
        rules_dir=rules_dir,
        pki=e2e_pki,
    )


@pytest.fixture(scope="session")
def signed_pdf(e2e_pki: TestPki) -> bytes:
    """A Party công văn signed by a person and by the organisation (test CA)."""
    return signed_sample_pdf(e2e_pki)


@pytest.fixture
def smarthost(sandbox: Sandbox) -> Iterator[CaptureSmarthost]:
    with CaptureSmarthost(sandbox.smarthost_port) as capture:
        yield capture


@dataclass
class RunningBridge:
    sandbox: Sandbox
    proc: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text("utf-8", "replace")

    def wait_log(self, needle: str, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log_text():
                return True
            time.sleep(0.1)
        return False

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 25.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)


StartBridge = Callable[..., RunningBridge]


@pytest.fixture
def start_bridge(sandbox: Sandbox) -> Iterator[StartBridge]:
    """Start ``mailbridge serve`` (more than once if a test restarts it)."""
    started: list[RunningBridge] = []

    def start(box: Sandbox | None = None) -> RunningBridge:
        box = box or sandbox
        log = box.root / f"serve-{len(started)}.log"
        env = {**os.environ, "MAILBRIDGE_LOG_LEVEL": "INFO"}
        with log.open("wb") as sink:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mailbridge",
                    "serve",
                    "-c",
                    str(box.config_file),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        running = RunningBridge(box, proc, log)
        started.append(running)
        try:
            wait_for_port(box.smtp_port, proc=proc, timeout=30)
        except (RuntimeError, TimeoutError):
            raise AssertionError(
                f"serve did not start:\n{running.log_text()}"
            ) from None
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.send_signal(signal.SIGTERM)
            try:
                running.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                running.proc.kill()
                running.proc.wait()


@pytest.fixture
def bridge(
    start_bridge: StartBridge, smarthost: CaptureSmarthost
) -> Iterator[RunningBridge]:
    """A started bridge whose smarthost captures replies; stopped with SIGTERM."""
    running = start_bridge()
    yield running
    assert running.stop() == 0, running.log_text()


def send(
    sandbox: Sandbox, raw: bytes, *, sender: str | None = None, rcpt: str | None = None
) -> None:
    """Send ``raw`` to the bridge with Python's smtplib."""
    with smtplib.SMTP("127.0.0.1", sandbox.smtp_port, timeout=30) as client:
        client.sendmail(
            sandbox.agency_address if sender is None else sender,
            [rcpt or sandbox.bridge_address],
            raw,
        )


def cli(
    sandbox: Sandbox, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``mailbridge ARGS -c CONFIG`` and return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "mailbridge", *args, "-c", str(sandbox.config_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"mailbridge {' '.join(args)} failed:\n{result.stderr}")
    return result


def documents(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(json.loads(cli(sandbox, "documents", "list", "--json").stdout))


def messages(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(json.loads(cli(sandbox, "messages", "list", "--json").stdout))


def wait_messages(
    sandbox: Sandbox, count: int, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Poll ``messages list`` until ``count`` messages are decided."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        rows = messages(sandbox)
        if len(rows) >= count:
            return rows
        time.sleep(0.3)
    return rows
