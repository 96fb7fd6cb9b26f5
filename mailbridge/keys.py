"""``mailbridge keys generate``: a new DKIM key pair and the DNS record to publish.

The private key is written as ``{selector}.pem`` (PKCS#8 PEM, mode 0600) in the
given folder and is never overwritten. The public half is returned as the TXT
record to publish at ``{selector}._domainkey.{domain}``; the same text can go into
``dns.static_records`` for closed networks.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

__all__ = ["GeneratedKey", "generate_dkim_key"]

_LABELS = re.compile(
    r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$"
)
#: Longest character-string inside one TXT record (RFC 1035 section 3.3.14).
_TXT_CHUNK = 255


@dataclass(frozen=True)
class GeneratedKey:
    """A freshly written DKIM key: where it is and what to publish."""

    private_key_file: Path
    dns_name: str
    txt_record: str

    @property
    def ok(self) -> bool:
        """The private key file is still there."""
        return self.private_key_file.is_file()

    @property
    def zone_line(self) -> str:
        """The record as a zone-file line, split into strings of at most 255 characters."""
        chunks = [
            self.txt_record[i : i + _TXT_CHUNK]
            for i in range(0, len(self.txt_record), _TXT_CHUNK)
        ]
        quoted = " ".join(f'"{c}"' for c in chunks)
        return f"{self.dns_name}. IN TXT ( {quoted} )"


def _check_name(value: str, what: str) -> str:
    value = value.strip().rstrip(".").lower()
    if not _LABELS.match(value):
        raise ValueError(f"{what} {value!r} is not a valid DNS name")
    return value


def generate_dkim_key(
    dest_dir: Path,
    *,
    domain: str,
    selector: str,
    algorithm: Literal["rsa", "ed25519"] = "rsa",
    bits: int = 2048,
) -> GeneratedKey:
    """Write a new private key to ``dest_dir/{selector}.pem`` and return its record.

    Raises :class:`FileExistsError` rather than replace an existing key, and
    :class:`ValueError` for a bad domain, selector, algorithm or key size.
    """
    domain = _check_name(domain, "domain")
    selector = _check_name(selector, "selector")
    if "." in selector:
        raise ValueError(f"selector {selector!r} must be a single DNS label")
    if algorithm == "rsa":
        if not 1024 <= bits <= 8192:
            raise ValueError(
                f"RSA key size {bits} is out of range (1024 to 8192; use 2048)"
            )
        private_key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = (
            rsa.generate_private_key(public_exponent=65537, key_size=bits)
        )
        public = private_key.public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
    elif algorithm == "ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
        public = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}: use rsa or ed25519")
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{selector}.pem"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise FileExistsError(
            f"{path} already exists: a DKIM key is never overwritten; choose "
            "another selector (and publish its record) or move the old key away first"
        ) from exc
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(path, 0o600)
    txt = f"v=DKIM1; k={algorithm}; p={base64.b64encode(public).decode('ascii')}"
    return GeneratedKey(
        private_key_file=path,
        dns_name=f"{selector}._domainkey.{domain}",
        txt_record=txt,
    )
