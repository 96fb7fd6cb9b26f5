"""Bytes to a typed inbound message, with the raw bytes always kept.

Parsing uses the standard library's ``email`` package with ``policy.default``:
RFC 2047 encoded words and RFC 2231 file names are decoded by it, and every text
field mailbridge keeps is NFC-normalised here, once.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

__all__ = [
    "Attachment",
    "MalformedMessage",
    "ParsedMessage",
    "html_text",
    "nfc",
    "normalise_message_id",
    "parse_message",
    "sha256_hex",
]

PDF_TYPES = frozenset({"application/pdf", "application/x-pdf", "application/acrobat"})


class MalformedMessage(ValueError):
    """The bytes are not a mail mailbridge can read (reason ``MALFORMED``)."""


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def nfc(text: str) -> str:
    """Unicode NFC form of ``text``."""
    return unicodedata.normalize("NFC", text)


def normalise_message_id(value: str | None) -> str | None:
    """A Message-ID without angle brackets or surrounding space; None when empty."""
    if not value:
        return None
    value = str(value).strip()
    if value.startswith("<") and ">" in value:
        value = value[1 : value.index(">")]
    return value.strip() or None


@dataclass(frozen=True)
class Attachment:
    """One leaf MIME part that carries a file (or a non-text part)."""

    filename: str
    content_type: str
    data: bytes
    sha256: str

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def is_pdf(self) -> bool:
        """A PDF by type, by name or by its first bytes."""
        return (
            self.content_type in PDF_TYPES
            or self.filename.lower().endswith(".pdf")
            or self.data[:1024].lstrip().startswith(b"%PDF-")
        )


@dataclass(frozen=True)
class ParsedMessage:
    """An inbound mail: the raw bytes, the parsed tree and the facts read from it."""

    raw: bytes
    msg: EmailMessage = field(repr=False)
    message_id: str | None
    raw_sha256: str
    from_address: str | None
    subject: str
    body_text: str  # the plain-text body; the HTML body's text when there is none
    html_body_text: str  # the text of the inline HTML body parts, if any
    attachments: tuple[Attachment, ...]
    in_reply_to: str | None
    references: tuple[str, ...]

    @property
    def from_domain(self) -> str | None:
        if not self.from_address or "@" not in self.from_address:
            return None
        return self.from_address.rsplit("@", 1)[1]

    @property
    def message_id_hash(self) -> str:
        """SHA-256 of the Message-ID (or of the raw bytes when there is none)."""
        if self.message_id:
            return sha256_hex(self.message_id.encode("utf-8"))
        return self.raw_sha256

    @property
    def pdfs(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.is_pdf)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` as text, NFC; None when absent."""
        value = self.msg.get(name)
        return None if value is None else nfc(str(value))

    def header_all(self, name: str) -> list[str]:
        return [nfc(str(v)) for v in self.msg.get_all(name) or []]


def _from_address(msg: EmailMessage) -> str | None:
    try:
        header = msg["From"]
    except (ValueError, IndexError, TypeError) as exc:  # unparsable header
        raise MalformedMessage(f"unreadable From header: {exc}") from exc
    if header is None:
        return None
    addresses: tuple[Address, ...] = getattr(header, "addresses", ())
    for address in addresses:
        if address.addr_spec and "@" in address.addr_spec:
            return address.addr_spec.lower()
    pairs = getaddresses([str(header)])
    for _name, addr in pairs:
        if "@" in addr:
            return addr.lower()
    return None


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = (
            payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
        )
    return content if isinstance(content, str) else ""


def _walk(msg: EmailMessage) -> tuple[str, str, list[Attachment]]:
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        is_text_body = (
            ctype in ("text/plain", "text/html")
            and not filename
            and disposition != "attachment"
        )
        if is_text_body:
            text = _part_text(part)
            (texts if ctype == "text/plain" else htmls).append(
                text if ctype == "text/plain" else html_text(text)
            )
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        name = nfc(filename or "")
        attachments.append(Attachment(name, ctype, data, sha256_hex(data)))
    html_body = nfc("\n".join(htmls))
    return nfc("\n".join(texts)) or html_body, html_body, attachments


_BLOCK_END = re.compile(r"<(?:br|/p|/div|/tr|/td|/li|/h\d|/table)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]*>")


def html_text(markup: str) -> str:
    """The text of an HTML part, one line per block element."""
    return html.unescape(_TAG.sub(" ", _BLOCK_END.sub("\n", markup)))


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse ``raw`` bytes; raise :class:`MalformedMessage` if they are not a mail."""
    if not raw.strip():
        raise MalformedMessage("empty message")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if not isinstance(
        msg, EmailMessage
    ):  # pragma: no cover - policy.default guarantees
        raise MalformedMessage("not an email message")
    if not msg.keys():
        raise MalformedMessage("no header fields")
    from_address = _from_address(msg)
    try:
        subject = nfc(str(msg.get("Subject", "") or "")).strip()
        message_id = normalise_message_id(msg.get("Message-ID"))
        in_reply_to = normalise_message_id(msg.get("In-Reply-To"))
        references = tuple(
            ref
            for ref in (
                normalise_message_id(token)
                for token in str(msg.get("References", "") or "").split()
            )
            if ref
        )
        body_text, html_body_text, attachments = _walk(msg)
    except (ValueError, IndexError, TypeError, LookupError) as exc:
        raise MalformedMessage(f"unreadable MIME structure: {exc}") from exc
    return ParsedMessage(
        raw=raw,
        msg=msg,
        message_id=message_id,
        raw_sha256=sha256_hex(raw),
        from_address=from_address,
        subject=subject,
        body_text=body_text,
        html_body_text=html_body_text,
        attachments=tuple(attachments),
        in_reply_to=in_reply_to,
        references=references,
    )
