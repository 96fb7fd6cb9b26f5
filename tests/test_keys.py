"""``mailbridge keys generate``: the key file, the record, and no overwriting."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Literal

import pytest

from mailbridge.keys import generate_dkim_key
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.sample.mail import dkim_signed_mail
from mailbridge.verify.dkim import verify_dkim
from mailbridge.verify.dns import StaticResolver

DOMAIN = "bridge.example.vn"


@pytest.mark.parametrize("algorithm", ["rsa", "ed25519"])
def test_generated_key_signs_mail_that_verifies(
    tmp_path: Path, algorithm: Literal["rsa", "ed25519"]
) -> None:
    """The printed TXT record, used as a static record, verifies mail the key signed."""
    key = generate_dkim_key(
        tmp_path, domain=DOMAIN, selector="mb2026", algorithm=algorithm
    )
    signer = DkimSigner.from_file(DOMAIN, "mb2026", key.private_key_file)
    resolver = StaticResolver({key.dns_name: key.txt_record})
    result = asyncio.run(verify_dkim(dkim_signed_mail(signer), DOMAIN, resolver))
    expected = (
        "mb2026._domainkey.bridge.example.vn",
        f"v=DKIM1; k={algorithm}; p=",
        "pass",
    )
    actual = (key.dns_name, key.txt_record[: len(expected[1])], result.result)
    assert expected == actual


def test_key_file_is_private(tmp_path: Path) -> None:
    """The key is written as {selector}.pem, readable by its owner only."""
    key = generate_dkim_key(tmp_path / "keys", domain=DOMAIN, selector="s1")
    expected = (tmp_path / "keys" / "s1.pem", 0o600, b"-----BEGIN PRIVATE KEY-----")
    actual = (
        key.private_key_file,
        stat.S_IMODE(key.private_key_file.stat().st_mode),
        key.private_key_file.read_bytes()[:27],
    )
    assert expected == actual


def test_existing_key_is_never_overwritten(tmp_path: Path) -> None:
    """A second run with the same selector refuses and says what to do."""
    first = generate_dkim_key(
        tmp_path, domain=DOMAIN, selector="s1", algorithm="ed25519"
    )
    before = first.private_key_file.read_bytes()
    with pytest.raises(FileExistsError) as caught:
        generate_dkim_key(tmp_path, domain=DOMAIN, selector="s1", algorithm="ed25519")
    expected = (before, True)
    actual = (
        first.private_key_file.read_bytes(),
        "choose another selector" in str(caught.value),
    )
    assert expected == actual


def test_zone_line_splits_long_records(tmp_path: Path) -> None:
    """A 2048-bit record is split into strings of at most 255 characters."""
    key = generate_dkim_key(tmp_path, domain=DOMAIN, selector="s1")
    strings = key.zone_line.split('"')[1::2]
    expected = (key.txt_record, True)
    actual = ("".join(strings), all(len(s) <= 255 for s in strings))
    assert expected == actual


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"selector": "a/b"}, "not a valid DNS name"),
        ({"selector": "a.b"}, "single DNS label"),
        ({"domain": "bad domain"}, "not a valid DNS name"),
        ({"bits": 512}, "out of range"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    """Bad selector, domain or size: ValueError, and no file written."""
    arguments: dict[str, object] = {"domain": DOMAIN, "selector": "s1", **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_dkim_key(tmp_path, **arguments)  # type: ignore[arg-type]  # mixed kwargs on purpose
    expected: list[Path] = []
    actual = list(tmp_path.iterdir())
    assert expected == actual
