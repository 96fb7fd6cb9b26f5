"""Attachment policy (SPEC.md section 6): executables, macros, archives, sizes."""

from __future__ import annotations

import io
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from mailbridge.codes import Reason
from mailbridge.config.schema import AttachmentsConfig
from mailbridge.message import Attachment, sha256_hex
from mailbridge.policy.attachments import AttachmentFinding, inspect_attachments

LIMITS = AttachmentsConfig()
BANNED = Reason.BANNED_ATTACHMENT
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def attachment(
    name: str, data: bytes, ctype: str = "application/octet-stream"
) -> Attachment:
    """An attachment as the message parser produces it."""
    return Attachment(name, ctype, data, sha256_hex(data))


def pdf() -> bytes:
    """A small real PDF with Vietnamese text."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Số 917-CV/VPTU")
    page.save()
    return buffer.getvalue()


def zipped(members: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    """A zip of ``members`` (deflated; ``stored_first`` first and uncompressed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first is not None:
            archive.writestr(stored_first, members[stored_first], zipfile.ZIP_STORED)
        for name, data in members.items():
            if name != stored_first:
                archive.writestr(name, data)
    return buffer.getvalue()


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal Word document; ``extra`` adds members."""
    members = {
        "[Content_Types].xml": b'<?xml version="1.0"?><Types/>',
        "_rels/.rels": b'<?xml version="1.0"?><Relationships/>',
        "word/document.xml": "<w:document>Kính gửi</w:document>".encode(),
    }
    members.update(extra or {})
    return zipped(members)


def odt(extra: dict[str, bytes] | None = None) -> bytes:
    """A minimal OpenDocument text (mimetype stored first, as ODF requires)."""
    members = {
        "mimetype": b"application/vnd.oasis.opendocument.text",
        "content.xml": "<office:document-content>Tờ trình</office:document-content>".encode(),
        "META-INF/manifest.xml": b"<manifest:manifest/>",
    }
    members.update(extra or {})
    return zipped(members, stored_first="mimetype")


def xlsx() -> bytes:
    """A minimal Excel workbook."""
    return zipped(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/worksheets/sheet1.xml": b"<worksheet/>" * 50,
        }
    )


def image(fmt: str) -> bytes:
    """A small real image in ``fmt`` (PNG, JPEG)."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(buffer, fmt)
    return buffer.getvalue()


def ole(*, macros: bool) -> bytes:
    """An OLE compound file header with a directory entry, with or without VBA."""
    name = "_VBA_PROJECT" if macros else "WordDocument"
    return OLE_MAGIC + b"\x00" * 504 + name.encode("utf-16-le") + b"\x00" * 1024


def only(findings: tuple[AttachmentFinding, ...]) -> tuple[str, Reason, str]:
    """The single finding, as (file name, reason, detail)."""
    assert len(findings) == 1, findings
    return findings[0].filename, findings[0].reason, findings[0].detail


def test_ordinary_documents_pass() -> None:
    """PDF, DOCX, ODT, XLSX, images, edXML, JSON, a .doc and a plain zip all pass."""
    attachments = [
        attachment("917-CV-VPTU.pdf", pdf(), "application/pdf"),
        attachment("Tờ trình.docx", docx()),
        attachment("Báo cáo.odt", odt()),
        attachment("Phụ lục.xlsx", xlsx()),
        attachment("ảnh.png", image("PNG"), "image/png"),
        attachment("con dấu.jpg", image("JPEG"), "image/jpeg"),
        attachment(
            "goi-tin.edxml", b'<edXML:edXML xmlns:edXML="x"/>', "application/xml"
        ),
        attachment("metadata.json", b'{"so": "917-CV/VPTU"}', "application/json"),
        attachment("cu.doc", ole(macros=False), "application/msword"),
        attachment(
            "ho-so.zip",
            zipped(
                {
                    "van-ban/917.pdf": pdf(),
                    "van-ban/phu-luc.docx": docx(),
                    "goi-tin.xml": b"<edXML/>",
                }
            ),
            "application/zip",
        ),
        attachment("", b"inline part without a name", "text/calendar"),
    ]
    expected: tuple[AttachmentFinding, ...] = ()
    assert expected == inspect_attachments(attachments, LIMITS)


@pytest.mark.parametrize(
    "name",
    [
        "setup.exe",
        "a.com",
        "run.bat",
        "run.cmd",
        "screen.scr",
        "x.pif",
        "script.js",
        "macro.vbs",
        "install.msi",
        "lib.dll",
        "app.jar",
        "tool.ps1",
        "SETUP.EXE",
        "setup.exe. ",
        "setup.e\u200bxe",
    ],
)
def test_executables_by_name_are_banned(name: str) -> None:
    """Every executable extension of SPEC section 6 is refused, however it is dressed."""
    extension = "." + name.replace("\u200b", "").strip(" .").rsplit(".", 1)[1].lower()
    expected = (name, BANNED, f"executable file type {extension}")
    assert expected == only(inspect_attachments([attachment(name, b"text")], LIMITS))


def test_admin_banned_extensions() -> None:
    """Extensions the admin adds, with or without a dot, are refused too."""
    limits = AttachmentsConfig(banned_extensions=["xyz", ".ABC"])
    found = inspect_attachments(
        [
            attachment("a.xyz", b"1"),
            attachment("b.abc", b"2"),
            attachment("c.pdf", pdf()),
        ],
        limits,
    )
    expected = [
        ("a.xyz", BANNED, "executable file type .xyz"),
        ("b.abc", BANNED, "executable file type .abc"),
    ]
    assert expected == [(f.filename, f.reason, f.detail) for f in found]


def test_double_extension_trick() -> None:
    """A ``.pdf.exe`` is named as what it is: an executable disguised as a PDF."""
    found = inspect_attachments([attachment("Quyết định.pdf.exe", EXE)], LIMITS)
    detail = "executable disguised as .pdf (double extension .pdf.exe)"
    expected = ("Quyết định.pdf.exe", BANNED, detail)
    assert expected == only(found)


def test_direction_control_in_name() -> None:
    """A right-to-left override that shows ``...exe.pdf`` as ``...fdp.exe`` is refused."""
    name = "hoa-don\u202efdp.exe"
    detail = "file name hides its extension with a Unicode direction control"
    expected = (name, BANNED, detail)
    assert expected == only(inspect_attachments([attachment(name, pdf())], LIMITS))


def test_pdf_that_is_a_program() -> None:
    """A file named .pdf whose content starts with MZ is a disguised Windows program."""
    found = inspect_attachments(
        [attachment("van-ban.pdf", EXE, "application/pdf")], LIMITS
    )
    expected = ("van-ban.pdf", BANNED, "Windows program (MZ) disguised as .pdf")
    assert expected == only(found)


@pytest.mark.parametrize(
    ("name", "data", "detail"),
    [
        ("bang.docm", docx(), "macro-enabled Office file (.docm)"),
        ("bang.xlsm", xlsx(), "macro-enabled Office file (.xlsm)"),
        ("trinh-chieu.pptm", b"x", "macro-enabled Office file (.pptm)"),
        (
            "doi-ten.docx",
            docx({"word/vbaProject.bin": b"\x00"}),
            "Office document with macros (archive member 'word/vbaProject.bin')",
        ),
        ("cu.doc", ole(macros=True), "Office document with macros"),
        (
            "bao-cao.odt",
            odt({"Basic/Standard/Module1.xml": b"<script/>"}),
            "Office document with macros (archive member 'Basic/Standard/Module1.xml')",
        ),
    ],
)
def test_macro_enabled_office_files(name: str, data: bytes, detail: str) -> None:
    """Macros are refused by extension, by a VBA project (OOXML, OLE) or ODF Basic."""
    assert (name, BANNED, detail) == only(
        inspect_attachments([attachment(name, data)], LIMITS)
    )


@pytest.mark.parametrize(
    "ctype",
    ["application/x-msdownload", "application/x-dosexec", "application/java-archive"],
)
def test_banned_content_types(ctype: str) -> None:
    """A forbidden content type is refused whatever the name says."""
    expected = ("tai-lieu.txt", BANNED, f"content type {ctype} not allowed")
    assert expected == only(
        inspect_attachments([attachment("tai-lieu.txt", b"text", ctype)], LIMITS)
    )


def test_archives_that_cannot_be_inspected() -> None:
    """RAR by name and gzip by content are refused: only plain zips are opened."""
    found = inspect_attachments(
        [
            attachment("ho-so.rar", b"Rar!\x1a\x07\x00"),
            attachment("a.bin", b"\x1f\x8b\x08"),
        ],
        LIMITS,
    )
    expected = [
        (
            "ho-so.rar",
            BANNED,
            "archive format .rar cannot be inspected: send the files or a plain .zip",
        ),
        ("a.bin", BANNED, "archive format mailbridge cannot inspect"),
    ]
    assert expected == [(f.filename, f.reason, f.detail) for f in found]


@pytest.mark.parametrize(
    ("members", "detail"),
    [
        (
            {"a/setup.exe": b"x"},
            "archive member 'a/setup.exe': executable file type .exe",
        ),
        (
            {"scan.pdf": EXE},
            "archive member 'scan.pdf': Windows program (MZ) disguised as .pdf",
        ),
        (
            {"inner.zip": zipped({"a.pdf": b"%PDF-"})},
            "archive member 'inner.zip': archive inside an archive",
        ),
        (
            {"noname": zipped({"a.pdf": b"%PDF-"})},
            "archive member 'noname': archive inside an archive",
        ),
        (
            {"ho-so.7z": b"7z"},
            "archive member 'ho-so.7z': archive format .7z cannot be inspected: "
            "send the files or a plain .zip",
        ),
        (
            {"x.docx": docx({"word/renamed.bin": ole(macros=True)})},
            "archive member 'x.docx > word/renamed.bin': Office document with macros",
        ),
        ({"bin/tool": b"\x7fELF\x02\x01"}, "archive member 'bin/tool': program (ELF)"),
        (
            {"x.docx": docx({"word/vbaProject.bin": b"\x00"})},
            "Office document with macros (archive member 'x.docx > word/vbaProject.bin')",
        ),
    ],
)
def test_zip_members_are_inspected(members: dict[str, bytes], detail: str) -> None:
    """Executables, disguised programs, nested archives and macros inside a zip."""
    found = inspect_attachments([attachment("ho-so.zip", zipped(members))], LIMITS)
    assert ("ho-so.zip", BANNED, detail) == only(found)


@pytest.mark.skipif(shutil.which("zip") is None, reason="Info-ZIP zip not installed")
def test_encrypted_zip_member(tmp_path: Path) -> None:
    """A password-protected member cannot be scanned, so the zip is refused."""
    (tmp_path / "mat-khau.pdf").write_bytes(pdf())
    subprocess.run(
        ["zip", "-q", "-P", "secret", "ho-so.zip", "mat-khau.pdf"],
        cwd=tmp_path,
        check=True,
    )
    data = (tmp_path / "ho-so.zip").read_bytes()
    found = inspect_attachments([attachment("ho-so.zip", data)], LIMITS)
    expected = (
        "ho-so.zip",
        BANNED,
        "archive member 'mat-khau.pdf': encrypted, cannot be inspected",
    )
    assert expected == only(found)


def test_too_many_members() -> None:
    """An archive with more files than ``max_archive_members`` is refused."""
    limits = AttachmentsConfig(max_archive_members=5)
    data = zipped({f"{i}.xml": b"<a/>" for i in range(6)})
    found = inspect_attachments([attachment("nhieu.zip", data)], limits)
    expected = ("nhieu.zip", BANNED, "archive holds more than 5 files")
    assert expected == only(found)


def test_declared_size_over_the_limit() -> None:
    """The sizes an archive declares are checked before anything is decompressed."""
    limits = AttachmentsConfig(max_archive_bytes=1024 * 1024)
    data = zipped({"zeros.xml": bytes(2 * 1024 * 1024)})
    found = inspect_attachments([attachment("bom.zip", data)], limits)
    detail = "decompression bomb: expands to more than 1048576 bytes"
    assert ("bom.zip", BANNED, detail) == only(found)


def test_compression_ratio() -> None:
    """Megabytes of zeros in a few kilobytes are a bomb, even under the size limit."""
    data = zipped({"zeros.xml": bytes(8 * 1024 * 1024)})
    found = inspect_attachments([attachment("bom.docx", data)], LIMITS)
    detail = "decompression bomb: compression ratio over 100"
    assert ("bom.docx", BANNED, detail) == only(found)


def test_lying_headers_are_measured_while_streaming() -> None:
    """A bomb whose headers claim a tiny size is still stopped, and quickly."""
    real = 64 * 1024 * 1024
    data = bytearray(zipped({"zeros.xml": bytes(real)}))
    claimed = (1000).to_bytes(4, "little")
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = data.index(signature)
        data[start + offset : start + offset + 4] = claimed
    started = time.monotonic()
    found = inspect_attachments([attachment("bom.zip", bytes(data))], LIMITS)
    elapsed = time.monotonic() - started
    detail = "archive member 'zeros.xml': unreadable (Bad CRC-32 for file 'zeros.xml')"
    expected = ("bom.zip", BANNED, detail, True)
    assert expected == (*only(found), elapsed < 2.0)


def test_too_large_attachment() -> None:
    """An attachment over ``max_attachment_bytes`` is TOO_LARGE; others are unaffected."""
    limits = AttachmentsConfig(max_attachment_bytes=1000)
    big = pdf() + bytes(1000)
    found = inspect_attachments(
        [attachment("nho.xml", b"<a/>"), attachment("lon.pdf", big)], limits
    )
    detail = f"{len(big)} bytes, over the limit of 1000 bytes"
    assert ("lon.pdf", Reason.TOO_LARGE, detail) == only(found)


def test_every_attachment_is_reported() -> None:
    """Several bad attachments each get their finding, in order, with a readable text."""
    limits = AttachmentsConfig(max_attachment_bytes=100)
    found = inspect_attachments(
        [attachment("a.exe", EXE + bytes(100)), attachment("b.pdf", pdf())], limits
    )
    expected = [
        "a.exe: 164 bytes, over the limit of 100 bytes",
        "a.exe: executable file type .exe",
        f"b.pdf: {len(pdf())} bytes, over the limit of 100 bytes",
    ]
    assert expected == [str(f) for f in found]
