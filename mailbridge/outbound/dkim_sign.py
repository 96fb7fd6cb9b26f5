"""DKIM signing of everything the bridge sends (replies, notices, outbound documents).

The signature uses relaxed/relaxed canonicalisation and covers the headers a
receiving office relies on: From, To, Subject, Date, Message-ID, In-Reply-To,
References, Auto-Submitted, MIME-Version, Content-Type and every
``X-Mailbridge-*`` header. Singleton headers are signed once more than they
occur, so that nobody can add a second From or Subject without breaking it.
Keys are RSA (PKCS#1 or PKCS#8 PEM) or Ed25519 (PKCS#8 PEM, RFC 8463).
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from mailbridge.errors import ConfigError, ConfigIssue

if TYPE_CHECKING:
    from mailbridge.config.schema import DkimKeyConfig

__all__ = ["SIGNED_HEADERS", "DkimSigner"]

log = logging.getLogger("mailbridge.outbound")

Algorithm = Literal["rsa-sha256", "ed25519-sha256"]

#: Headers signed when present (lower case), in this order.
SIGNED_HEADERS = (
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "auto-submitted",
    "mime-version",
    "content-type",
)
#: Headers signed one extra time, so that adding another instance breaks the signature.
_OVERSIGNED = frozenset({"from", "to", "subject", "date", "message-id"})
_PREFIX = "x-mailbridge-"


def _load_key(data: bytes) -> rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        raise ValueError(
            f"unsupported key type {type(key).__name__}: use RSA or Ed25519"
        )
    return key


@dataclass(frozen=True)
class DkimSigner:
    """A DKIM signing identity: ``d=``, ``s=`` and the private key (PEM)."""

    domain: str
    selector: str
    private_key: bytes = field(repr=False)
    algorithm: Algorithm = "rsa-sha256"

    @property
    def ok(self) -> bool:
        """The key is readable and matches ``algorithm``."""
        try:
            key = _load_key(self.private_key)
        except (ValueError, TypeError):
            return False
        expected = (
            rsa.RSAPrivateKey
            if self.algorithm == "rsa-sha256"
            else ed25519.Ed25519PrivateKey
        )
        return isinstance(key, expected)

    @classmethod
    def from_file(cls, domain: str, selector: str, path: Path) -> DkimSigner:
        """Read a PEM private key; its type chooses the algorithm.

        Raises :class:`~mailbridge.errors.ConfigError` naming the file when the key
        cannot be read or is neither RSA nor Ed25519.
        """
        key_name = "outbound.dkim.private_key_file"
        try:
            data = Path(path).read_bytes()
            key = _load_key(data)
        except OSError as exc:
            issue = ConfigIssue(
                str(path), None, key_name, f"cannot read the DKIM key: {exc.strerror}"
            )
            raise ConfigError([issue]) from exc
        except (ValueError, TypeError) as exc:
            issue = ConfigIssue(
                str(path), None, key_name, f"not a usable DKIM private key: {exc}"
            )
            raise ConfigError([issue]) from exc
        algorithm: Algorithm = (
            "ed25519-sha256"
            if isinstance(key, ed25519.Ed25519PrivateKey)
            else "rsa-sha256"
        )
        return cls(
            domain=domain.lower(),
            selector=selector,
            private_key=data,
            algorithm=algorithm,
        )

    @classmethod
    def from_config(cls, config: DkimKeyConfig) -> DkimSigner:
        """The signer that ``outbound.dkim`` in ``mailbridge.yaml`` describes."""
        return cls.from_file(config.domain, config.selector, config.private_key_file)

    def _dkimpy_key(self) -> bytes:
        key = _load_key(self.private_key)
        if isinstance(key, ed25519.Ed25519PrivateKey):
            if self.algorithm != "ed25519-sha256":
                raise ValueError("an Ed25519 key signs with ed25519-sha256 only")
            seed = key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
            return base64.b64encode(seed)
        if self.algorithm != "rsa-sha256":
            raise ValueError("an RSA key signs with rsa-sha256 only")
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def sign(self, raw: bytes) -> bytes:
        """``raw`` with a ``DKIM-Signature`` header prepended."""
        signer = dkim.DKIM(raw, linesep=b"\r\n" if b"\r\n" in raw else b"\n")
        present = [
            name.decode("ascii", "replace").lower() for name, _ in signer.headers
        ]
        include: list[bytes] = []
        wanted = [
            *SIGNED_HEADERS,
            *sorted({n for n in present if n.startswith(_PREFIX)}),
        ]
        for name in wanted:
            count = present.count(name)
            if name in _OVERSIGNED:
                count += 1
            include.extend([name.encode("ascii")] * count)
        if "from" not in present:
            raise ValueError("a message without From cannot be DKIM-signed")
        header = signer.sign(
            self.selector.encode("ascii"),
            self.domain.encode("idna"),
            self._dkimpy_key(),
            signature_algorithm=self.algorithm.encode("ascii"),
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=include,
        )
        log.debug(
            "DKIM-signed d=%s s=%s a=%s", self.domain, self.selector, self.algorithm
        )
        return bytes(header) + raw
