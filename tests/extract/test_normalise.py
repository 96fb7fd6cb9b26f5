"""Text normalisation: NFC, tone placement, Đ, spaces and dashes (DOMAIN.md section 5)."""

from __future__ import annotations

import unicodedata

import pytest

from mailbridge.extract.normalise import canonical, fold, normalise, tone_old_style


def test_nfd_becomes_nfc() -> None:
    """A decomposed "MẬT" (five code points) becomes the composed one (three)."""
    decomposed = unicodedata.normalize("NFD", "MẬT")
    assert 5 == len(decomposed)
    assert "MẬT" == normalise(decomposed)
    assert 3 == len(normalise(decomposed))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HOẢ TỐC", "HỎA TỐC"),
        ("Uỷ ban nhân dân", "Ủy ban nhân dân"),
        ("Khánh Hoà", "Khánh Hòa"),
        ("thuỷ lợi", "thủy lợi"),
        ("khoẻ", "khỏe"),
        ("quý", "quý"),
        ("hoàn thành", "hoàn thành"),
        ("HỎA TỐC", "HỎA TỐC"),
    ],
)
def test_tone_placement_is_canonical(text: str, expected: str) -> None:
    """New-style tone marks on word-final oa/oe/uy move to the first vowel only."""
    assert expected == tone_old_style(text)
    assert expected == normalise(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\u00d0ẢNG", "ĐẢNG"),
        ("Số\u00a0917", "Số 917"),
        ("M\u00adẬT", "MẬT"),
        ("Tự do \u2013 Hạnh phúc", "Tự do - Hạnh phúc"),
        ("1500/QĐ\u2010UBND", "1500/QĐ-UBND"),
        ("a\u2014b", "a-b"),
        ("M\u00c2   \u0323T", "MẬT"),
    ],
)
def test_characters_are_mapped(text: str, expected: str) -> None:
    """Ð, NBSP, soft hyphen, Unicode dashes and split combining marks are mapped."""
    assert expected == normalise(text)


def test_canonical_upper_single_spaces() -> None:
    """canonical() is upper case with single spaces, for comparisons."""
    assert "TỐI MẬT" == canonical("  tối \u00a0  mật ")
    assert "HỎA TỐC HẸN GIỜ" == canonical("Hoả tốc hẹn giờ")


def test_fold_keeps_positions() -> None:
    """fold() strips diacritics and Đ, one character for one character."""
    text = normalise("Khánh Hòa, ngày 20 tháng 11 năm 2026 - Số 30/2020/NĐ-CP")
    folded = fold(text)
    assert "Khanh Hoa, ngay 20 thang 11 nam 2026 - So 30/2020/ND-CP" == folded
    assert len(text) == len(folded)
    assert "Dang" == fold("Đảng")
