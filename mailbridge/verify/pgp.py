"""PGP/MIME (RFC 3156) signatures: verification against registered keys, and signing.

A message is PGP/MIME signed when its top-level type is ``multipart/signed`` with
``protocol="application/pgp-signature"``. The detached signature (second part) is
checked over the first part's bytes exactly as they were in the raw message,
from the line after the first boundary to the CRLF before the next one, in CRLF
canonical form (RFC 3156 section 5). The public keys come from the GnuPG home of
``trust.pgp_keyring``; the signer's primary (or signing sub-) key fingerprint must
be one of the agency's ``pgp_fingerprints``.

Both functions are synchronous (they run ``gpg``); the pipeline calls them in a thread.
When gpg cannot run or gives no verdict at all, verification raises
:class:`~mailbridge.errors.VerificationUnavailable` (retry later), never a failure.
The agency's fingerprint list is the trust anchor: GnuPG's web-of-trust is not used.
"""

from __future__ import annotations

import copy
import logging
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.generator import BytesGenerator
from email.message import EmailMessage
from io import BytesIO
from pathlib import Path

import gnupg

from mailbridge.errors import VerificationUnavailable
from mailbridge.message import ParsedMessage

__all__ = [
    "PGP_PROTOCOL",
    "PgpResult",
    "sign_pgp_mime",
    "signed_content",
    "verify_pgp_mime",
]

log = logging.getLogger("mailbridge.verify")

PGP_PROTOCOL = "application/pgp-signature"
_BARE_LF = re.compile(rb"(?<!\r)\n")


@dataclass(frozen=True)
class PgpResult:
    """The PGP/MIME check of one message."""

    present: bool
    valid: bool
    fingerprint: str | None
    matched: bool
    detail: str

    @property
    def ok(self) -> bool:
        """Signed, the signature verifies, and the key is one of the agency's."""
        return self.present and self.valid and self.matched


def _crlf(data: bytes) -> bytes:
    return _BARE_LF.sub(b"\r\n", data)


def _serialise(msg: EmailMessage) -> bytes:
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=policy.SMTP).flatten(msg)
    return out.getvalue()


def signed_content(raw: bytes, boundary: str) -> bytes | None:
    """The first part of a ``multipart/signed`` body, as signed; None if not found."""
    data = _crlf(raw)
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    body = data[head_end + 2 :]  # keep the CRLF that ends the header block
    delimiter = b"\r\n--" + boundary.encode("ascii", "replace")
    first = body.find(delimiter)
    if first < 0:
        return None
    line_end = body.find(b"\r\n", first + len(delimiter))
    if line_end < 0:
        return None
    if body[first + len(delimiter) : line_end].strip(b" \t"):
        return None  # a longer boundary that only starts like ours
    # The CRLF that ends the delimiter line may also start the next delimiter
    # (an empty part), hence the search from line_end.
    end = body.find(delimiter, line_end)
    if end < 0:
        return None
    return body[line_end + 2 : end] if end > line_end else b""


def _not_signed(detail: str) -> PgpResult:
    return PgpResult(
        present=False, valid=False, fingerprint=None, matched=False, detail=detail
    )


def _failed(detail: str, fingerprint: str | None = None) -> PgpResult:
    return PgpResult(
        present=True, valid=False, fingerprint=fingerprint, matched=False, detail=detail
    )


def verify_pgp_mime(
    msg: EmailMessage | ParsedMessage,
    *,
    keyring: Path | None,
    fingerprints: Sequence[str],
) -> PgpResult:
    """Check the PGP/MIME signature of ``msg`` against ``fingerprints``."""
    if isinstance(msg, ParsedMessage):
        tree, raw = msg.msg, msg.raw
    else:
        tree, raw = msg, _serialise(msg)
    if tree.get_content_type() != "multipart/signed":
        return _not_signed("not a PGP/MIME signed message")
    if str(tree.get_param("protocol", "")).lower() != PGP_PROTOCOL:
        return _not_signed("multipart/signed, but not with an OpenPGP signature")
    parts = tree.get_payload()
    boundary = tree.get_boundary()
    if not isinstance(parts, list) or len(parts) != 2 or not boundary:
        return _failed("malformed multipart/signed: it needs exactly two parts")
    sig_part = parts[1]
    if not isinstance(sig_part, EmailMessage) or (
        sig_part.get_content_type() != PGP_PROTOCOL
    ):
        return _failed("malformed multipart/signed: the second part is not a signature")
    content = signed_content(raw, boundary)
    signature = sig_part.get_payload(decode=True)
    if content is None or not isinstance(signature, bytes) or not signature.strip():
        return _failed("malformed multipart/signed: signed part or signature not found")
    if keyring is None:
        return _failed("no PGP keyring is configured (trust.pgp_keyring)")
    if not Path(keyring).is_dir():
        return _failed(f"PGP keyring folder {keyring} does not exist")
    try:
        gpg = gnupg.GPG(gnupghome=str(keyring))
    except (OSError, ValueError) as exc:
        raise VerificationUnavailable(f"gpg cannot run: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="mailbridge-pgp-") as tmp:
        sig_file = Path(tmp) / "signature.asc"
        sig_file.write_bytes(signature)
        verified = gpg.verify_data(str(sig_file), content)
    if not verified.valid and verified.status is None:
        # gpg stopped before saying anything about the signature (keyring locked,
        # agent trouble): not a verdict on the message.
        tail = (verified.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise VerificationUnavailable(f"gpg gave no verdict: {tail[0]}")
    primary = (
        verified.pubkey_fingerprint or verified.fingerprint or ""
    ).upper() or None
    if not verified.valid:
        reason = verified.status or "signature not verified"
        if verified.key_id and reason == "no public key":
            reason = f"no public key for {verified.key_id} in the keyring"
        return _failed(f"PGP signature not valid: {reason}", primary)
    wanted = {f.replace(" ", "").upper() for f in fingerprints}
    candidates = {(verified.fingerprint or "").upper(), primary or ""} - {""}
    matched = bool(candidates & wanted)
    detail = (
        "valid signature from a registered key"
        if matched
        else (f"valid signature, but key {primary} is not registered for this agency")
    )
    log.debug("pgp %s: %s", primary, detail)
    return PgpResult(
        present=True, valid=True, fingerprint=primary, matched=matched, detail=detail
    )


def _seven_bit(part: EmailMessage) -> None:
    """Re-encode 8bit or binary leaves as quoted-printable or base64 (RFC 3156 5)."""
    for leaf in list(part.walk()):
        if leaf.is_multipart():
            continue
        cte = str(leaf.get("Content-Transfer-Encoding", "7bit")).lower()
        if cte not in ("8bit", "binary"):
            continue
        assert isinstance(leaf, EmailMessage)
        content = leaf.get_content()
        disposition = leaf.get_content_disposition()
        filename = leaf.get_filename()
        if isinstance(content, str):
            leaf.set_content(
                content,
                subtype=leaf.get_content_subtype(),
                cte="quoted-printable",
                disposition=disposition,
                filename=filename,
            )
        else:
            leaf.set_content(
                content,
                maintype=leaf.get_content_maintype(),
                subtype=leaf.get_content_subtype(),
                cte="base64",
                disposition=disposition,
                filename=filename,
            )


def sign_pgp_mime(
    msg: EmailMessage,
    *,
    gnupg_home: Path,
    key: str,
    passphrase: str | None = None,
) -> EmailMessage:
    """A ``multipart/signed`` copy of ``msg`` with a detached OpenPGP signature."""
    inner = copy.deepcopy(msg)
    for name in set(inner.keys()):
        if not name.lower().startswith("content-"):
            del inner[name]
    if "Content-Type" not in inner:
        inner["Content-Type"] = "text/plain; charset=us-ascii"
    _seven_bit(inner)
    outer = EmailMessage()
    for name, value in msg.items():
        lower = name.lower()
        if not lower.startswith("content-") and lower != "mime-version":
            outer[name] = value
    boundary = f"=-=mailbridge-{secrets.token_hex(12)}=-="
    outer["MIME-Version"] = "1.0"
    outer["Content-Type"] = (
        f'multipart/signed; micalg="pgp-sha256"; protocol="{PGP_PROTOCOL}"; '
        f'boundary="{boundary}"'
    )
    sig_part = EmailMessage()
    sig_part["Content-Type"] = f'{PGP_PROTOCOL}; name="signature.asc"'
    sig_part["Content-Description"] = "OpenPGP digital signature"
    sig_part["Content-Disposition"] = 'attachment; filename="signature.asc"'
    sig_part.set_payload("placeholder\r\n")
    outer.attach(inner)
    outer.attach(sig_part)
    content = signed_content(_serialise(outer), boundary)
    if content is None:  # pragma: no cover - the boundary was just written
        raise RuntimeError("could not locate the part to sign")
    gpg = gnupg.GPG(gnupghome=str(gnupg_home))
    signed = gpg.sign(
        content,
        keyid=key,
        passphrase=passphrase,
        detach=True,
        extra_args=["--digest-algo", "SHA256"],
    )
    armored = str(signed)
    if not armored.strip():
        raise ValueError(f"gpg could not sign with key {key}: {signed.status}")
    sig_part.set_payload(armored)
    return outer
