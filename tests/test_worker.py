"""The worker on a real bridge built from a sandbox configuration, no network."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from mailbridge.config.loader import load_settings
from mailbridge.context import build_bridge
from mailbridge.register.db import migrate
from mailbridge.register.queries import list_messages
from mailbridge.sample.pki import TestPki, make_test_pki
from mailbridge.sample.sandbox import make_sandbox
from mailbridge.spool import Envelope
from mailbridge.worker import Worker

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return make_test_pki(tmp_path_factory.mktemp("pki"))


def test_unreadable_bytes_are_recorded_not_lost(tmp_path: Path, pki: TestPki) -> None:
    """Bytes that are no mail: a MALFORMED row with their hash, nothing answered."""
    box = make_sandbox(
        tmp_path, templates_dir=REPO / "templates", rules_dir=REPO / "rules", pki=pki
    )
    bridge = build_bridge(load_settings(box.config_file))
    migrate(bridge.engine)
    raw = b"\r\n\r\nno header at all"
    bridge.spool.put(
        raw, Envelope("x@y.vn", (box.bridge_address,), "2026-12-01T09:00:00+07:00")
    )
    [processed] = asyncio.run(Worker(bridge).drain())
    [row] = list_messages(bridge.engine)
    assert ("recorded", "ignored", "MALFORMED") == (
        processed.outcome,
        row["verdict"],
        row["reason"],
    )
    assert hashlib.sha256(raw).hexdigest() == row["raw_sha256"]
    assert [] == bridge.spool.pending()
