"""Sample mails for tests and ``mailbridge demo``.

- :func:`document_mail`: a clerk's mail with a PDF attachment and a Vietnamese
  subject (sent RFC 2047 encoded);
- :func:`dkim_signed_mail`: the same, DKIM-signed with a given key;
- :func:`pgp_signed_mail`: the same, PGP/MIME signed with a key of a GnuPG home;
- :func:`create_pgp_key` and :func:`import_public_key`: throwaway OpenPGP keys.

Nothing here touches the network; GnuPG homes are whatever folders the caller gives.
"""

from __future__ import annotations

import subprocess
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import gnupg

from mailbridge.clock import VN_TZ
from mailbridge.mailheaders import safe_header
from mailbridge.outbound.dkim_sign import DkimSigner
from mailbridge.verify.pgp import sign_pgp_mime

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SUBJECT",
    "create_pgp_key",
    "dkim_signed_mail",
    "document_mail",
    "import_public_key",
    "minimal_pdf",
    "pgp_signed_mail",
    "stop_gpg_agent",
    "to_bytes",
]

DEFAULT_SUBJECT = "Công văn số 123/UBND-VP về việc tổ chức Đại hội Đảng bộ phường"
DEFAULT_BODY = (
    "Kính gửi Văn phòng Tỉnh ủy,\n\n"
    "Đảng ủy phường gửi kèm công văn số 123/UBND-VP (bản điện tử có chữ ký số).\n\n"
    "Trân trọng.\n"
)


def minimal_pdf(text: str = "Cong van so 123/UBND-VP") -> bytes:
    """A small, well-formed one-page PDF showing ``text`` (ASCII), unsigned."""
    safe = text.encode("ascii", "replace").replace(b"\\", b"\\\\")
    safe = safe.replace(b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 12 Tf 72 720 Td (" + safe + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length "
        + str(len(stream)).encode()
        + b" >>\nstream\n"
        + stream
        + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n".encode()
    out += f"startxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def document_mail(
    *,
    sender: str = "vanthu@phanrang.example.vn",
    recipient: str = "vanthu@bridge.example.vn",
    subject: str = DEFAULT_SUBJECT,
    body: str = DEFAULT_BODY,
    pdf: bytes | None = None,
    pdf_name: str = "123-UBND-VP.pdf",
    message_id: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A clerk's mail: text body plus one PDF attachment."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = safe_header("Subject", subject)
    msg["Date"] = format_datetime(date or datetime.now(VN_TZ))
    domain = sender.rsplit("@", 1)[-1]
    msg["Message-ID"] = message_id or make_msgid(domain=domain)
    msg.set_content(body)
    msg.add_attachment(
        pdf if pdf is not None else minimal_pdf(),
        maintype="application",
        subtype="pdf",
        filename=pdf_name,
    )
    return msg


def to_bytes(msg: EmailMessage) -> bytes:
    """The wire form of ``msg`` (CRLF line ends, RFC 2047 encoded headers)."""
    return msg.as_bytes(policy=policy.SMTP)


def dkim_signed_mail(signer: DkimSigner, msg: EmailMessage | None = None) -> bytes:
    """``msg`` (default: :func:`document_mail` from ``signer``'s domain), DKIM-signed."""
    if msg is None:
        msg = document_mail(sender=f"vanthu@{signer.domain}")
    return signer.sign(to_bytes(msg))


def pgp_signed_mail(
    gnupg_home: Path,
    key: str,
    msg: EmailMessage | None = None,
    *,
    passphrase: str | None = None,
) -> bytes:
    """``msg`` (default: :func:`document_mail`) PGP/MIME signed with ``key``."""
    signed = sign_pgp_mime(
        msg if msg is not None else document_mail(),
        gnupg_home=gnupg_home,
        key=key,
        passphrase=passphrase,
    )
    return to_bytes(signed)


def create_pgp_key(gnupg_home: Path, *, name: str, email: str) -> str:
    """A new unprotected Ed25519 signing key in ``gnupg_home``; its fingerprint."""
    gnupg_home.mkdir(mode=0o700, parents=True, exist_ok=True)
    gpg = gnupg.GPG(gnupghome=str(gnupg_home))
    spec = gpg.gen_key_input(
        key_type="EDDSA",
        key_curve="ed25519",
        key_usage="sign",
        name_real=name,
        name_email=email,
        expire_date="0",
        no_protection=True,
    )
    result = gpg.gen_key(spec)
    if not result.fingerprint:
        raise RuntimeError(f"gpg could not create a key: {result.stderr}")
    return str(result.fingerprint)


def import_public_key(source_home: Path, fingerprint: str, keyring: Path) -> None:
    """Copy the public key ``fingerprint`` from ``source_home`` into ``keyring``."""
    keyring.mkdir(mode=0o700, parents=True, exist_ok=True)
    armored = gnupg.GPG(gnupghome=str(source_home)).export_keys(fingerprint)
    result = gnupg.GPG(gnupghome=str(keyring)).import_keys(armored)
    if fingerprint.upper() not in {f.upper() for f in result.fingerprints}:
        raise RuntimeError(f"gpg could not import key {fingerprint}")


def stop_gpg_agent(gnupg_home: Path) -> None:
    """Stop the gpg-agent that GnuPG started for ``gnupg_home`` (if any)."""
    subprocess.run(
        ["gpgconf", "--homedir", str(gnupg_home), "--kill", "all"],
        check=False,
        capture_output=True,
        timeout=30,
    )
