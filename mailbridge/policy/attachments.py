"""Attachment policy (SPEC.md section 6): what may travel with a document.

A message is returned whole (``BANNED_ATTACHMENT``) when any attachment is an
executable by name or by content (``MZ``), hides one behind a double extension
(``.pdf.exe``) or a Unicode direction control, is a macro-enabled Office file, has a
banned content type, is an archive mailbridge cannot inspect, or is a zip with an
encrypted member, a nested archive or the shape of a decompression bomb. An
attachment over ``max_attachment_bytes`` is ``TOO_LARGE``.

Zips are inspected member by member, streaming with a cap: no more than
``max_archive_bytes`` are ever decompressed, whatever the headers claim. Office
documents (DOCX, XLSX, ODT ...) are zips too: they are inspected the same way, may
embed other Office documents, and fail on VBA projects or ODF macro folders.
"""

from __future__ import annotations

import io
import logging
import lzma
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from mailbridge.codes import Reason
from mailbridge.config.schema import AttachmentsConfig
from mailbridge.message import Attachment

__all__ = [
    "ARCHIVE_EXTENSIONS",
    "BANNED_CONTENT_TYPES",
    "EXECUTABLE_EXTENSIONS",
    "MACRO_EXTENSIONS",
    "OFFICE_EXTENSIONS",
    "AttachmentFinding",
    "ContentKind",
    "content_kind",
    "inspect_attachments",
    "name_problem",
    "vba_in_ole",
]

log = logging.getLogger("mailbridge.policy")

_CHUNK = 64 * 1024
#: Below this many expanded bytes the compression ratio is not judged: small,
#: very regular files (XML, CSV) compress well and are harmless.
_RATIO_FLOOR = 1024 * 1024
_MAX_DEPTH = 3
_UNREADABLE = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    EOFError,
    OSError,
    ValueError,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _suffixes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Run by Windows on a double click (SPEC.md section 6, then mailbridge's additions).
EXECUTABLE_EXTENSIONS = _words(
    ".exe .com .bat .cmd .scr .pif .js .vbs .msi .dll .jar .ps1 .hta .wsf "
    ".wsh .vbe .jse .lnk .cpl .msp .reg .scf .psm1 .appx .msix"
)
MACRO_EXTENSIONS = _words(
    ".docm .dotm .xlsm .xltm .xlam .xlsb .pptm .potm .ppsm .ppam .sldm"
)
#: Archive formats mailbridge does not open: only plain zips are inspected.
ARCHIVE_EXTENSIONS = _words(
    ".rar .7z .cab .iso .img .arj .ace .lzh .lha .tar .gz .tgz .bz2 .tbz "
    ".xz .txz .z .zst .zipx"
)
#: Zip-based documents (OOXML, ODF): inspected as documents, not as archives.
OFFICE_EXTENSIONS = _suffixes(
    ".docx .dotx .xlsx .xltx .pptx .potx .ppsx .odt .ott .ods .ots .odp .otp .odg .vsdx"
)
BANNED_CONTENT_TYPES = frozenset(
    {
        "application/x-msdownload",
        "application/x-dosexec",
        "application/x-msdos-program",
        "application/x-executable",
        "application/vnd.microsoft.portable-executable",
        "application/x-ms-installer",
        "application/x-msi",
        "application/x-ms-shortcut",
        "application/java-archive",
        "application/x-java-archive",
        "application/hta",
        "application/javascript",
        "application/x-javascript",
        "text/javascript",
        "application/x-bat",
        "application/vnd.ms-word.document.macroenabled.12",
        "application/vnd.ms-excel.sheet.macroenabled.12",
        "application/vnd.ms-powerpoint.presentation.macroenabled.12",
    }
)
#: Characters that reorder or hide part of a file name on screen (``exe.pdf``).
_DIRECTION_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\ufeff"))
_ARCHIVE_MAGIC = (
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",
    b"\xfd7zXZ\x00",
    b"MSCF",
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_VBA_NAME = "_VBA_PROJECT".encode("utf-16-le")


class ContentKind(Enum):
    """What the first bytes of a file say it is."""

    EXECUTABLE = "executable"
    ZIP = "zip"
    OLE = "ole"
    ARCHIVE = "archive"
    OTHER = "other"


def content_kind(head: bytes) -> ContentKind:
    """Classify a file by its first bytes (16 are enough)."""
    if head.startswith((b"MZ", b"\x7fELF")):
        return ContentKind.EXECUTABLE
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ContentKind.ZIP
    if head.startswith(_OLE_MAGIC):
        return ContentKind.OLE
    is_bzip2 = head.startswith(b"BZh") and head[3:4].isdigit()
    if head.startswith(_ARCHIVE_MAGIC) or is_bzip2:
        return ContentKind.ARCHIVE
    return ContentKind.OTHER


def vba_in_ole(data: bytes) -> bool:
    """True when an OLE compound file (.doc, .xls, .ppt) carries a VBA project."""
    return _VBA_NAME in data or b"vbaProject.bin" in data


def name_problem(name: str, banned_extensions: Sequence[str] = ()) -> str | None:
    """Why a file name is refused, or None. ``name`` may be a path inside a zip."""
    if any(char in _DIRECTION_CONTROLS for char in name):
        return "file name hides its extension with a Unicode direction control"
    base = name.replace("\\", "/").rsplit("/", 1)[-1].translate(_INVISIBLE)
    base = base.rstrip(" .").casefold()
    parts = base.split(".")
    if len(parts) < 2:
        return None
    extension = "." + parts[-1].strip()
    extra = {"." + e.casefold().lstrip(".") for e in banned_extensions}
    if extension in EXECUTABLE_EXTENSIONS or extension in extra:
        disguise = "." + parts[-2].strip() if len(parts) > 2 else ""
        if 1 < len(disguise) <= 5 and disguise[1:].isalnum():
            return f"executable disguised as {disguise} (double extension {disguise}{extension})"
        return f"executable file type {extension}"
    if extension in MACRO_EXTENSIONS:
        return f"macro-enabled Office file ({extension})"
    if extension in ARCHIVE_EXTENSIONS:
        return f"archive format {extension} cannot be inspected: send the files or a plain .zip"
    return None


@dataclass(frozen=True)
class AttachmentFinding:
    """Why one attachment stops the message (``BANNED_ATTACHMENT`` or ``TOO_LARGE``)."""

    filename: str
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"{self.filename or '(no name)'}: {self.detail}"


class _Banned(Exception):
    """Raised inside an archive walk to stop at the first problem."""


class _Budget:
    """What the walk of one attachment has used so far."""

    def __init__(self, limits: AttachmentsConfig, packed: int) -> None:
        self.limits = limits
        self.packed = max(packed, 1)
        self.members = 0
        self.expanded = 0

    def add_members(self, count: int) -> None:
        self.members += count
        if self.members > self.limits.max_archive_members:
            limit = self.limits.max_archive_members
            raise _Banned(f"archive holds more than {limit} files")

    def add_bytes(self, count: int) -> None:
        self.expanded += count
        self.check(self.expanded)

    def check(self, expanded: int) -> None:
        limits = self.limits
        if expanded > limits.max_archive_bytes:
            raise _Banned(
                "decompression bomb: expands to more than "
                f"{limits.max_archive_bytes} bytes"
            )
        ratio = expanded / self.packed
        if expanded > _RATIO_FLOOR and ratio > limits.max_archive_ratio:
            raise _Banned(
                "decompression bomb: compression ratio over "
                f"{limits.max_archive_ratio:g}"
            )


def _content_problem(kind: ContentKind, head: bytes, name: str) -> str | None:
    """Why the first bytes of a file are refused, or None."""
    if kind is ContentKind.EXECUTABLE:
        program = "Windows program (MZ)" if head.startswith(b"MZ") else "program (ELF)"
        shown = name.rsplit("/", 1)[-1].rsplit(".", 1)
        if len(shown) == 2 and shown[1]:
            return f"{program} disguised as .{shown[1].lower()}"
        return program
    if kind is ContentKind.ARCHIVE:
        return "archive format mailbridge cannot inspect"
    return None


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: _Budget
) -> tuple[bytes, bytes | None]:
    """The first bytes of a member and, for containers, all of it (within budget)."""
    head = b""
    kept: bytearray | None = None
    with archive.open(info) as stream:
        while chunk := stream.read(_CHUNK):
            budget.add_bytes(len(chunk))
            if not head:
                head = chunk[:16]
                if content_kind(head) in (ContentKind.ZIP, ContentKind.OLE):
                    kept = bytearray()
            if kept is not None:
                kept += chunk
    return head, None if kept is None else bytes(kept)


def _walk_zip(
    data: bytes, path: str, budget: _Budget, *, office: bool, depth: int
) -> None:
    """Raise :class:`_Banned` at the first problem in the zip ``data``.

    ``path`` names the zip inside the attachment ("" for the attachment itself).
    """
    if depth > _MAX_DEPTH:
        raise _Banned(f"archive member {path!r}: archives nested too deeply")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except _UNREADABLE as exc:
        raise _Banned(f"unreadable archive ({exc})") from exc
    with archive:
        infos = archive.infolist()
        budget.add_members(len(infos))
        budget.check(budget.expanded + sum(i.file_size for i in infos))
        names = {i.filename for i in infos}
        office = office or "[Content_Types].xml" in names or "mimetype" in names
        for info in infos:
            member = f"{path} > {info.filename}" if path else info.filename
            _check_member(archive, info, member, budget, office=office, depth=depth)


def _check_member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    member: str,
    budget: _Budget,
    *,
    office: bool,
    depth: int,
) -> None:
    where = f"archive member {member!r}"
    problem = name_problem(info.filename, budget.limits.banned_extensions)
    if problem is not None:
        raise _Banned(f"{where}: {problem}")
    base = info.filename.rsplit("/", 1)[-1].lower()
    top = info.filename.split("/", 1)[0].lower()
    if office and (base == "vbaproject.bin" or top in ("basic", "scripts")):
        raise _Banned(f"Office document with macros ({where})")
    if info.flag_bits & 0x1:
        raise _Banned(f"{where}: encrypted, cannot be inspected")
    if info.is_dir():
        return
    try:
        head, whole = _read_member(archive, info, budget)
    except _UNREADABLE as exc:
        raise _Banned(f"{where}: unreadable ({exc})") from exc
    kind = content_kind(head)
    problem = _content_problem(kind, head, info.filename)
    if problem is not None:
        raise _Banned(f"{where}: {problem}")
    if kind is ContentKind.OLE and whole is not None and vba_in_ole(whole):
        raise _Banned(f"{where}: Office document with macros")
    if kind is ContentKind.ZIP and whole is not None:
        if not (office or base.endswith(OFFICE_EXTENSIONS)):
            raise _Banned(f"{where}: archive inside an archive")
        _walk_zip(whole, member, budget, office=True, depth=depth + 1)


def _inspect_one(
    attachment: Attachment, limits: AttachmentsConfig
) -> list[AttachmentFinding]:
    name = attachment.filename
    findings: list[AttachmentFinding] = []
    too_large = attachment.size > limits.max_attachment_bytes
    if too_large:
        limit = limits.max_attachment_bytes
        detail = f"{attachment.size} bytes, over the limit of {limit} bytes"
        findings.append(AttachmentFinding(name, Reason.TOO_LARGE, detail))
    data = attachment.data
    kind = content_kind(data[:16])
    ctype = attachment.content_type.lower()
    problem = (
        name_problem(name, limits.banned_extensions)
        or (
            f"content type {ctype} not allowed"
            if ctype in BANNED_CONTENT_TYPES
            else None
        )
        or _content_problem(kind, data[:16], name)
    )
    if problem is None and kind is ContentKind.OLE and vba_in_ole(data):
        problem = "Office document with macros"
    if problem is None and kind is ContentKind.ZIP and not too_large:
        office = name.lower().endswith(OFFICE_EXTENSIONS)
        try:
            _walk_zip(data, "", _Budget(limits, len(data)), office=office, depth=0)
        except _Banned as banned:
            problem = str(banned)
    if problem is not None:
        findings.append(AttachmentFinding(name, Reason.BANNED_ATTACHMENT, problem))
    return findings


def inspect_attachments(
    attachments: Sequence[Attachment], limits: AttachmentsConfig
) -> tuple[AttachmentFinding, ...]:
    """Every problem with ``attachments``: at most one ban and one size finding each.

    An empty result means the attachments may pass.
    """
    findings: list[AttachmentFinding] = []
    for attachment in attachments:
        found = _inspect_one(attachment, limits)
        for finding in found:
            log.info("attachment refused: %s (%s)", finding, finding.reason.value)
        findings.extend(found)
    return tuple(findings)
