"""Parsing with the standard library: decoded, NFC, PDFs wherever they sit."""

from __future__ import annotations

import base64
import unicodedata

import pytest

from mailbridge.message import MalformedMessage, parse_message

PDF_B64 = b"JVBERi0xLjQKJSBtYWlsYnJpZGdlCg=="  # "%PDF-1.4\n% mailbridge\n"


def mail(*parts: bytes, subject: bytes = b"=?utf-8?b?Q8O0bmcgdsSDbg==?=") -> bytes:
    head = (
        b"From: =?utf-8?q?V=C4=83n_th=C6=B0?= <VanThu@PhanRang.example.vn>\r\n"
        b"To: vanthu@bridge.example.vn\r\nSubject: " + subject + b"\r\n"
        b"Message-ID: <abc@phanrang.example.vn>\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
    )
    body = b"".join(b"--OUT\r\n" + p + b"\r\n" for p in parts)
    return head + body + b"--OUT--\r\n"


TEXT = b"Content-Type: text/plain; charset=utf-8\r\n\r\nK\xc3\xadnh g\xe1\xbb\xadi"


def test_rfc2047_and_rfc2231_names_are_decoded() -> None:
    """Encoded-word subject and file name, RFC 2231 file name: all decoded."""
    msg = parse_message(
        mail(
            TEXT,
            b'Content-Type: application/octet-stream; name="=?utf-8?b?Q8O0bmcgdsSDbi5wZGY=?="\r\n'
            b'Content-Disposition: attachment; filename="=?utf-8?b?Q8O0bmcgdsSDbi5wZGY=?="\r\n'
            b"Content-Transfer-Encoding: base64\r\n\r\n" + PDF_B64,
            b"Content-Type: application/pdf\r\n"
            b"Content-Disposition: attachment; filename*=utf-8''Ph%E1%BB%A5%20l%E1%BB%A5c.pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + PDF_B64,
        )
    )
    assert "Công văn" == msg.subject
    assert ["Công văn.pdf", "Phụ lục.pdf"] == [a.filename for a in msg.attachments]
    assert [True, True] == [a.is_pdf for a in msg.attachments]
    assert "vanthu@phanrang.example.vn" == msg.from_address
    assert "phanrang.example.vn" == msg.from_domain
    assert "abc@phanrang.example.vn" == msg.message_id
    assert "Kính gửi" == msg.body_text


def test_pdf_nested_deep_in_the_mime_tree_is_found() -> None:
    """A PDF inside multipart/alternative inside a forwarded message/rfc822 part."""
    inner = (
        b"Content-Type: message/rfc822\r\n\r\n"
        b"From: x@y.vn\r\nSubject: fw\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=IN\r\n\r\n"
        b"--IN\r\nContent-Type: application/pdf; name=cv.pdf\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + PDF_B64 + b"\r\n--IN--\r\n"
    )
    msg = parse_message(mail(TEXT, inner))
    assert ["cv.pdf"] == [a.filename for a in msg.pdfs]
    assert msg.pdfs[0].data.startswith(b"%PDF-1.4")


def test_decomposed_subject_becomes_nfc() -> None:
    """A subject typed in NFD is stored in NFC."""
    nfd = unicodedata.normalize("NFD", "Kế hoạch Đại hội").encode()
    msg = parse_message(
        mail(TEXT, subject=b"=?utf-8?b?" + base64.b64encode(nfd) + b"?=")
    )
    assert unicodedata.normalize("NFC", "Kế hoạch Đại hội") == msg.subject


def test_pdf_by_content_without_name_or_type() -> None:
    """An octet-stream with no name whose bytes start with %PDF- is a PDF."""
    msg = parse_message(
        mail(
            b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + PDF_B64
        )
    )
    assert [("", True)] == [(a.filename, a.is_pdf) for a in msg.attachments]


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\r\n\r\njust a body"])
def test_not_a_mail_is_malformed(raw: bytes) -> None:
    """Empty input or no header fields: MalformedMessage, the reason MALFORMED."""
    with pytest.raises(MalformedMessage):
        parse_message(raw)


def test_html_only_body_keeps_one_line_per_block() -> None:
    """An HTML-only mail: its text is the body, one line per block, entities decoded."""
    html_part = (
        b"Content-Type: text/html; charset=utf-8\r\n\r\n"
        b"<p>K&iacute;nh g\xe1\xbb\xadi</p><div>M&#7852;T</div>"
    )
    msg = parse_message(mail(html_part))
    assert ["Kính gửi", "MẬT"] == [
        line.strip() for line in msg.body_text.splitlines() if line.strip()
    ]
    assert msg.body_text == msg.html_body_text
