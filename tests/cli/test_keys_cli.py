"""``mailbridge keys generate`` as an admin runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailbridge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )


def test_generate_writes_a_private_key_and_prints_the_records(tmp_path: Path) -> None:
    """A 0600 key file, the zone line split in 255-character strings, the static form."""
    out = run(
        "keys",
        "generate",
        "--domain",
        "bridge.example.vn",
        "--selector",
        "mb2027",
        "--out",
        str(tmp_path / "keys" / "dkim.pem"),
        cwd=tmp_path,
    )
    assert 0 == out.returncode, out.stderr
    key = tmp_path / "keys" / "dkim.pem"
    assert (True, 0o600) == (key.is_file(), key.stat().st_mode & 0o777)
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (
        'mb2027._domainkey.bridge.example.vn. IN TXT ( "v=DKIM1; k=rsa; p='
        in out.stdout
    )
    assert '" "' in out.stdout  # split into strings of at most 255 characters
    assert '"mb2027._domainkey.bridge.example.vn": "v=DKIM1; k=rsa; p=' in out.stdout


def test_generate_never_overwrites_a_key(tmp_path: Path) -> None:
    """A second run with the same file exits 1 and leaves the first key as it was."""
    target = tmp_path / "dkim.pem"
    args = ("keys", "generate", "--domain", "bridge.example.vn", "--selector", "s1")
    assert 0 == run(*args, "--out", str(target), cwd=tmp_path).returncode
    before = target.read_bytes()
    again = run(*args, "--out", str(target), cwd=tmp_path)
    assert (1, before) == (again.returncode, target.read_bytes())
    assert "already exists" in again.stderr


def test_generate_takes_its_defaults_from_the_config(tmp_path: Path) -> None:
    """outbound.dkim names domain, selector and file: the key lands where the config says."""
    conf = tmp_path / "config"
    conf.mkdir()
    (conf / "mailbridge.yaml").write_text(
        "outbound:\n  dkim: {domain: tinhuy.example.vn, selector: mb9, private_key_file: keys/k.pem}\n",
        "utf-8",
    )
    out = run("keys", "generate", "-c", str(conf / "mailbridge.yaml"), cwd=tmp_path)
    assert 0 == out.returncode, out.stderr
    assert (conf / "keys" / "k.pem").is_file()
    assert "mb9._domainkey.tinhuy.example.vn" in out.stdout
