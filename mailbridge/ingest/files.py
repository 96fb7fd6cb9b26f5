"""Reading .eml files, mbox files and Maildir folders for ``mailbridge ingest``.

Each message goes through the same ``Spool.put`` as SMTP; nothing here decides.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path

__all__ = ["envelope_sender_of", "iter_messages"]


def _is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def _is_mbox(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def iter_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(label, raw bytes)`` for every message at ``path``.

    A folder is a Maildir (``cur``/``new``), else a folder of ``*.eml`` files; a file
    starting with ``From `` is an mbox, any other file one message.
    """
    if _is_maildir(path):
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield f"{path}#{key}", box.get_bytes(key)
        return
    if path.is_dir():
        for child in sorted(path.glob("*.eml")):
            yield str(child), child.read_bytes()
        return
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if _is_mbox(path):
        box_m = mailbox.mbox(path, factory=None, create=False)
        for index, key in enumerate(box_m.keys()):
            yield f"{path}#{index + 1}", box_m.get_bytes(key)
        return
    yield str(path), path.read_bytes()


def envelope_sender_of(raw: bytes) -> str | None:
    """The envelope sender of a stored message: its ``Return-Path``, else its From.

    ``Return-Path: <>`` (a bounce) gives None, so no reply goes to it.
    """
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    return_path = headers.get("Return-Path")
    if return_path is not None:
        value = str(return_path).strip().strip("<>").strip()
        return value or None
    for _name, address in getaddresses([str(headers.get("From", "") or "")]):
        if "@" in address:
            return address
    return None
