"""Realistic Party and State documents drawn with reportlab (tests and ``mailbridge demo``).

Page 1 follows DOMAIN.md section 3: the two-column header (agency block on the
left; "ĐẢNG CỘNG SẢN VIỆT NAM" or the national motto on the right), the number and
the place/date line, urgency and classification stamps, the type name and abstract
(or "V/v …" under the number for a công văn), the body; the last page ends with
"Nơi nhận:" and the signature block.  Options produce the hard cases of the
classification gate: NFD text layers, legacy TCVN3 mojibake, image-only pages.
Output is deterministic (reportlab's invariant mode).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

__all__ = ["DocumentSpec", "find_font", "render_pdf", "render_scanned_pdf", "to_tcvn3"]

_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.fonts",
    "~/.local/share/fonts",
    "/Library/Fonts",
)
_FACES = {
    "R": "DejaVuSerif.ttf",
    "B": "DejaVuSerif-Bold.ttf",
}
# Two faces only keep each file small (the corpus stays under 5 MB): italic text
# is drawn upright.
_STYLE = {"R": "R", "B": "B", "I": "R", "BI": "B"}
WIDTH, HEIGHT = A4
LEFT, RIGHT = 70.0, WIDTH - 50.0


# Vietnamese letters and the Latin-1 characters a TCVN3 (ABC) font extracts as.
_TCVN3_FROM = (
    "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵĂÂĐÊÔƠƯ"
)
_TCVN3_TO = (
    "µ¸¶·¹¨»¾¼½Æ©ÇÊÈÉË®ÌÐÎÏÑªÒÕÓÔÖ×ÝØÜÞßãáâä«åèæçé¬êíëìîïóñòô\xadõøö÷ùúýûüþ¡¢§£¤¥¦"
)
_TCVN3 = str.maketrans(_TCVN3_FROM, _TCVN3_TO)


def to_tcvn3(text: str) -> str:
    """``text`` as a TCVN3-encoded PDF extracts: "Ủy ban nhân dân" -> "ñy ban nh©n d©n".

    TCVN3 fonts have no capital accented letters (the capitals come from a separate
    font with the same codes), so capitals are lowered first.
    """
    value = unicodedata.normalize("NFC", text)
    value = "".join(
        char.lower()
        if char not in _TCVN3_FROM and char.lower() in _TCVN3_FROM
        else char
        for char in value
    )
    return value.translate(_TCVN3)


def find_font(filename: str) -> Path:
    """The path of a TTF font file, looked up with fc-match and in the usual folders."""
    fc_match = shutil.which("fc-match")
    if fc_match:
        result = subprocess.run(
            [fc_match, "-f", "%{file}", Path(filename).stem],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if result.stdout.endswith(filename):
            return Path(result.stdout)
    for folder in _FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            for found in sorted(root.rglob(filename)):
                return found
    raise FileNotFoundError(f"font {filename} not found (install fonts-dejavu-core)")


def _register_fonts() -> None:
    registered = set(pdfmetrics.getRegisteredFontNames())
    for style, filename in _FACES.items():
        if f"MB-{style}" not in registered:
            pdfmetrics.registerFont(TTFont(f"MB-{style}", str(find_font(filename))))


@dataclass(frozen=True)
class DocumentSpec:
    """What to draw; every text is given as it should be printed."""

    party: bool = True
    superior: str = "TỈNH ỦY KHÁNH HÒA"
    issuer: str = "VĂN PHÒNG"
    number_symbol: str = "917-CV/VPTU"
    place: str = "Khánh Hòa"
    date: dt.date | None = dt.date(2026, 11, 20)
    type_name: str | None = None  # None: a công văn, with "V/v …" under the number
    abstract: str = "chuẩn bị hội nghị sơ kết công tác năm 2026"
    urgency: str | None = None  # "KHẨN", "HỎA TỐC", …
    stamp: str | None = None  # classification stamp beside the number on page 1
    stamp_image: str | None = None  # the same, pasted as an image (no text layer)
    later_stamps: tuple[tuple[int, str], ...] = ()  # (0-based page, text)
    notes: tuple[str, ...] = ()  # other marks under the number ("GIẢI MẬT", …)
    to: tuple[str, ...] = ()  # "Kính gửi:" addressees (công văn)
    body: tuple[str, ...] = ("Văn phòng Tỉnh ủy đề nghị các cơ quan thực hiện.",)
    later_pages: tuple[tuple[str, ...], ...] = ()  # paragraphs of pages 2, 3, …
    authority: str | None = "T/L BAN THƯỜNG VỤ"
    position: str = "CHÁNH VĂN PHÒNG"
    signer: str = "Nguyễn Văn An"
    distribution: tuple[str, ...] = ("Như trên,", "Lưu Văn phòng Tỉnh ủy.")
    number_colon: bool | None = None  # "Số:" (None: State yes, Party no)
    zero_pad: bool = True  # "ngày 05 tháng 03" rather than "ngày 5 tháng 3"
    nfd: bool = False  # text layer in decomposed form
    mojibake: bool = False  # text drawn as a TCVN3 font extracts


class _Pen:
    """Draws text in the spec's encoding, keeping the current line position."""

    def __init__(self, canvas: Canvas, spec: DocumentSpec) -> None:
        self.canvas = canvas
        self.spec = spec

    def text(self, value: str, *, legacy: bool = True) -> str:
        if self.spec.mojibake and legacy:
            return to_tcvn3(value)
        return unicodedata.normalize("NFD" if self.spec.nfd else "NFC", value)

    def width(self, value: str, style: str, size: float) -> float:
        return float(
            pdfmetrics.stringWidth(self.text(value), f"MB-{_STYLE[style]}", size)
        )

    def fit(self, value: str, style: str, size: float, width: float) -> float:
        while size > 7 and self.width(value, style, size) > width:
            size -= 0.5
        return size

    def centre(self, value: str, x: float, y: float, style: str, size: float) -> None:
        """Centred at ``x``, shrunk to fit its column (the whole line when centred)."""
        width = 230 if x < WIDTH / 2 - 20 else 270 if x > WIDTH / 2 + 20 else 440
        size = self.fit(value, style, size, width)
        self.canvas.setFont(f"MB-{_STYLE[style]}", size)
        self.canvas.drawCentredString(x, y, self.text(value))

    def left(self, value: str, x: float, y: float, style: str, size: float) -> None:
        self.canvas.setFont(f"MB-{_STYLE[style]}", size)
        self.canvas.drawString(x, y, self.text(value))

    def wrap(self, value: str, style: str, size: float, width: float) -> list[str]:
        lines: list[str] = []
        current = ""
        for word in value.split():
            trial = f"{current} {word}".strip()
            if current and self.width(trial, style, size) > width:
                lines.append(current)
                current = word
            else:
                current = trial
        return [*lines, current] if current else lines

    def stamp(self, value: str, x: float, y: float) -> None:
        size = 14.0
        w = self.width(value, "B", size) + 16
        self.canvas.setStrokeColorRGB(0.8, 0, 0)
        self.canvas.setFillColorRGB(0.8, 0, 0)
        self.canvas.rect(x - w / 2, y - 6, w, 24, stroke=1, fill=0)
        # a stamp comes from another tool than the body text: always Unicode
        self.canvas.setFont("MB-B", size)
        self.canvas.drawCentredString(x, y, self.text(value, legacy=False))
        self.canvas.setFillColorRGB(0, 0, 0)
        self.canvas.setStrokeColorRGB(0, 0, 0)


def _header(pen: _Pen, spec: DocumentSpec) -> float:
    """Draw the header block of page 1; return the y below it."""
    lx, rx = 165.0, 420.0
    pen.centre(spec.superior, lx, 790, "R", 13)
    pen.centre(spec.issuer, lx, 775, "B", 13)
    if spec.party:
        pen.centre("*", lx, 760, "R", 13)
        pen.centre("ĐẢNG CỘNG SẢN VIỆT NAM", rx, 790, "B", 14)
        pen.canvas.line(rx - 110, 782, rx + 110, 782)
    else:
        pen.canvas.line(lx - 40, 768, lx + 40, 768)
        pen.centre("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", rx, 790, "B", 12)
        pen.centre("Độc lập - Tự do - Hạnh phúc", rx, 775, "B", 13)
        pen.canvas.line(rx - 85, 769, rx + 85, 769)
    colon = not spec.party if spec.number_colon is None else spec.number_colon
    pen.centre(f"Số{':' if colon else ''} {spec.number_symbol}", lx, 740, "R", 13)
    if spec.date is None:
        date = f"{spec.place}, ngày     tháng     năm 2026"
    else:
        d = spec.date
        day, month = (
            (f"{d.day:02d}", f"{d.month:02d}") if spec.zero_pad else (d.day, d.month)
        )
        date = f"{spec.place}, ngày {day} tháng {month} năm {d.year}"
    pen.centre(date, rx, 740, "I", 13)
    y = 724.0
    if spec.type_name is None:
        prefix = "về việc" if spec.party else "V/v"
        for line in pen.wrap(f"{prefix} {spec.abstract}", "I", 12, 210):
            pen.centre(line, lx, y, "I", 12)
            y -= 15
    y -= 10
    for mark in (spec.urgency, *spec.notes):
        if mark:
            pen.centre(mark, lx, y, "B", 13)
            y -= 20
    if spec.stamp:
        pen.stamp(spec.stamp, lx, y - 6)
        y -= 34
    if spec.stamp_image:
        png = _stamp_png(spec.stamp_image)
        image = ImageReader(io.BytesIO(png))
        width, height = (size / 4 for size in image.getSize())
        pen.canvas.drawImage(image, lx - width / 2, y - 12, width, height)
        y -= 34
    return min(y, 680.0) - 10


def _stamp_png(text: str) -> bytes:
    """A red boxed stamp as a PNG image (4 pixels per point)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(find_font(_FACES["B"])), 56)
    left, top, right, bottom = font.getbbox(text)
    width, height = int(right - left) + 60, int(bottom - top) + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((3, 3, width - 4, height - 4), outline=(200, 0, 0), width=5)
    draw.text((30 - left, 20 - top), text, font=font, fill=(200, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _body_page(pen: _Pen, paragraphs: tuple[str, ...], y: float) -> float:
    for paragraph in paragraphs:
        lines = pen.wrap(paragraph, "R", 13, RIGHT - LEFT - 20)
        for number, line in enumerate(lines):
            pen.left(line, LEFT + (25 if number == 0 else 0), y, "R", 13)
            y -= 18
        y -= 6
    return y


def _signature(pen: _Pen, spec: DocumentSpec, y: float) -> None:
    y -= 10
    pen.left("Nơi nhận:", LEFT, y, "BI", 12)
    for number, item in enumerate(spec.distribution):
        pen.left(f"- {item}", LEFT, y - 15 * (number + 1), "R", 11)
    rx = 420.0
    top = y
    if spec.authority:
        pen.centre(spec.authority, rx, top, "B", 13)
        top -= 16
    pen.centre(spec.position, rx, top, "B", 13)
    pen.centre(spec.signer, rx, top - 80, "B", 13)


def render_pdf(spec: DocumentSpec) -> bytes:
    """The document as PDF bytes (same spec, same bytes)."""
    _register_fonts()
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    canvas.setTitle(spec.number_symbol)
    pen = _Pen(canvas, spec)
    y = _header(pen, spec)
    if spec.type_name:
        pen.centre(spec.type_name, WIDTH / 2, y, "B", 15)
        y -= 20
        for line in pen.wrap(spec.abstract, "B", 14, 380):
            pen.centre(line, WIDTH / 2, y, "B", 14)
            y -= 18
        canvas.line(WIDTH / 2 - 50, y + 8, WIDTH / 2 + 50, y + 8)
        y -= 24
    elif spec.to:
        addressees = spec.to if len(spec.to) == 1 else ("", *spec.to)
        pen.centre(f"Kính gửi: {addressees[0]}".strip(), WIDTH / 2, y, "R", 13)
        for item in addressees[1:]:
            y -= 17
            pen.left(f"- {item}", 250, y, "R", 13)
        y -= 30
    pages = (spec.body, *spec.later_pages)
    stamps = dict(spec.later_stamps)
    for index, paragraphs in enumerate(pages):
        if index:
            canvas.showPage()
            y = 780.0
            if index in stamps:
                pen.stamp(stamps[index], 165, y)
                y -= 40
        y = _body_page(pen, paragraphs, y)
        canvas.setFont("MB-R", 10)
        canvas.drawCentredString(WIDTH / 2, 30, str(index + 1))
    _signature(pen, spec, y)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def render_scanned_pdf(spec: DocumentSpec, *, dpi: int = 150) -> bytes:
    """The document as a scan: each page an image only, with no text layer."""
    from PIL import Image

    source = render_pdf(spec)
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=A4, invariant=1)
    with tempfile.TemporaryDirectory(prefix="mailbridge-scan-") as tmp:
        pdf = Path(tmp) / "source.pdf"
        pdf.write_bytes(source)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                str(dpi),
                "-gray",
                "-png",
                str(pdf),
                str(Path(tmp) / "p"),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        for image_path in sorted(Path(tmp).glob("p*.png")):
            with Image.open(image_path) as image:
                mono = image.convert("L").point(
                    lambda v: 255 if v > 170 else 0, mode="1"
                )
                out = Path(tmp) / f"mono-{image_path.name}"
                mono.save(out, optimize=True)
            canvas.drawImage(
                ImageReader(io.BytesIO(out.read_bytes())), 0, 0, WIDTH, HEIGHT
            )
            canvas.showPage()
    canvas.save()
    return buffer.getvalue()
