"""Text normalisation for Vietnamese document text (DOMAIN.md section 5).

PDF text layers, OCR output and mail headers spell the same words in several
ways: decomposed (NFD) or composed (NFC) code points, the old ("hòa", "Ủy") or new
("hoà", "Uỷ") tone placement, "Ð" (U+00D0) for "Đ", non-breaking spaces, soft
hyphens and typographic dashes. :func:`normalise` maps all of them to one
spelling; :func:`canonical` adds upper case and single spaces for comparisons;
:func:`fold` strips the diacritics while keeping every position, so a pattern can
match the folded text and the value can be cut from the normalised text.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["canonical", "fold", "normalise", "tone_old_style"]

#: Characters mapped one to one (or removed) before anything else.
_CHAR_MAP = {
    "\u00d0": "Đ",  # ETH that some fonts yield for Đ
    "\u0110": "Đ",
    "\u00a0": " ",  # no-break space
    "\u2007": " ",  # figure space
    "\u202f": " ",  # narrow no-break space
    "\u2009": " ",  # thin space
    "\u3000": " ",  # ideographic space
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2212": "-",  # minus sign
    "\u00ad": "",  # soft hyphen: a hyphenation point, not a character
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\ufeff": "",
}
_TRANSLATE = str.maketrans(_CHAR_MAP)

#: Tone marks (combining) used by Vietnamese.
_TONES = "\u0300\u0301\u0303\u0309\u0323"

# "oa", "oe", "uy" at the end of a syllable with the tone on the second vowel
# (new style) -> tone on the first vowel (old style).  "qu" + "y" is excluded: there
# the "u" belongs to the consonant and the tone always sits on "y".
_NEW_STYLE = re.compile(
    r"(?<![qQ])([oOuU])([aAeEyY])([" + _TONES + r"])(?![^\W\d_])",
)


# A combining mark never follows a space: extractors split NFD letters apart.
_SPACE_BEFORE_MARK = re.compile(r"[ \t\u00a0]+(?=[\u0300-\u036f])")


def tone_old_style(text: str) -> str:
    """Move the tone mark of word-final "oa", "oe", "uy" to the first vowel.

    ``"HOẢ TỐC"`` becomes ``"HỎA TỐC"`` and ``"Uỷ ban"`` becomes ``"Ủy ban"``; the
    result is NFC.
    """
    decomposed = unicodedata.normalize("NFD", text)

    def _swap(match: re.Match[str]) -> str:
        first, second, tone = match.group(1), match.group(2), match.group(3)
        if first.lower() == "u" and second.lower() != "y":
            return match.group(0)
        if first.lower() == "o" and second.lower() == "y":
            return match.group(0)
        return first + tone + second

    return unicodedata.normalize("NFC", _NEW_STYLE.sub(_swap, decomposed))


def normalise(text: str) -> str:
    """NFC text with one spelling of Đ, spaces, dashes and tone placement."""
    text = _SPACE_BEFORE_MARK.sub("", text.translate(_TRANSLATE))
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "   ")
    return tone_old_style(text)


_SPACES = re.compile(r"[ \t]+")


def canonical(text: str) -> str:
    """:func:`normalise`, upper case, single spaces, stripped: for comparisons."""
    return _SPACES.sub(" ", normalise(text).upper()).strip()


def _fold_char(char: str) -> str:
    if char in "Đđ":
        return "D" if char == "Đ" else "d"
    base = unicodedata.normalize("NFD", char)[:1]
    return base if len(base) == 1 else char


def fold(text: str) -> str:
    """Diacritics removed, Đ/đ folded to D/d, one character per input character.

    Apply it to :func:`normalise` output: the folded text then has the same length,
    so a match position in it is also a position in the normalised text.  Never use
    the folded form to compare number/symbols (Đ is significant there).
    """
    return "".join(_fold_char(char) for char in text)
