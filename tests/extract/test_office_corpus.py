"""The office corpus (tests/data/office): PDFs written by LibreOffice from table layouts.

The page-1 header and the signature block are two-column tables, as clerks lay
them out in Word or LibreOffice (tests/data/make_office_corpus.py).  Every file
runs through the real extraction (pdfminer, and poppler/Tesseract where a page
needs them); the figures are printed (``pytest -s``) and checked against the
DOMAIN.md bars: every classified file refused, no clean file refused or held, and
at least 95% of the five headline metadata fields right (98% is the aim).  The
layout cases behind those figures are also checked one by one on extracted text.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbridge.extract.classification import find_marks
from mailbridge.extract.header import first_symbol, place_date
from mailbridge.sample.corpus import (
    HEADLINE,
    CorpusRun,
    load_labels,
    run_corpus,
    score_fields,
)

OFFICE = Path(__file__).resolve().parents[1] / "data" / "office"
EXTRA = ("signer_name",)


@pytest.fixture(scope="module")
def runs() -> list[CorpusRun]:
    """Every labelled office file through the real extraction."""
    return run_corpus(OFFICE)


def test_office_corpus_is_varied_and_small() -> None:
    """At least 16 labelled PDFs of both layouts and several types, under 2 MB."""
    items = load_labels(OFFICE).values()
    size = sum(path.stat().st_size for path in OFFICE.iterdir())
    kinds = {item["metadata"]["document_type"] for item in items}
    assert (True, True) == (len(items) >= 16, size < 2 * 1024 * 1024)
    assert {"CV", "QD", "QDI", "TB", "KH", "BC", "GM", "CT"} <= kinds
    assert {"party", "state"} == {item["file"].split("-")[0] for item in items}


def test_office_text_is_readable(runs: list[CorpusRun]) -> None:
    """Every LibreOffice PDF has a usable text layer: nothing needs OCR."""
    unreadable = [
        r.name for r in runs if r.pdf is None or not r.pdf.readable or r.pdf.ocr_pages
    ]
    assert [] == unreadable


def test_office_gate_confusion(runs: list[CorpusRun]) -> None:
    """Every classified file refused; no clean file refused or held."""
    secret = [r for r in runs if r.label["classification"] != "none"]
    clean = [r for r in runs if r.label["classification"] == "none"]
    print(f"\noffice corpus: {len(runs)} files; classified {len(secret)}")
    for run in runs:
        seen = run.result.summary()
        print(f"  {run.name:26} {run.label['classification']:10} -> {seen}")
    accepted = [r.name for r in secret if r.outcome != "classified"]
    refused = [r.name for r in clean if r.outcome == "classified"]
    held = [r.name for r in clean if r.outcome == "uncertain"]
    print(f"classified not refused: {accepted}")
    print(f"clean refused: {refused}; clean held: {held}")
    assert ([], [], []) == (accepted, refused, held)


def test_office_levels_match_labels(runs: list[CorpusRun]) -> None:
    """Each file's level is the labelled one (TỐI MẬT is not read as MẬT)."""
    expected = {r.name: r.label["classification"] for r in runs}
    actual = {r.name: r.level for r in runs}
    assert expected == actual


def test_office_metadata_accuracy(runs: list[CorpusRun]) -> None:
    """At least 95% of number/symbol, date, type, urgency and abstract right."""
    scores = score_fields(runs, (*HEADLINE, *EXTRA))
    print()
    for score in scores:
        print(score.line())
    headline = [score for score in scores if score.name in HEADLINE]
    right = sum(score.hits for score in headline)
    total = sum(score.total for score in headline)
    print(f"headline fields: {right}/{total} = {right / total:.1%}")
    print("\n".join(miss for score in scores for miss in score.misses))
    headline_misses = [miss for score in headline for miss in score.misses]
    assert right / total >= 0.95, headline_misses
    for score in headline:
        assert score.ratio >= 0.95, (score.name, headline_misses)


# Rows as pdfminer extracts a two-column header table: the pieces of both cells
# side by side, three spaces apart; a cell line that wraps continues one row down.
WRAPPED_DATE = """TỈNH ỦY KHÁNH HÒA   ĐẢNG CỘNG SẢN VIỆT NAM
VĂN PHÒNG   _______
*   Khánh Hòa, ngày 20 tháng 11 năm
Số 917-CV/VPTU   2026"""
WRAPPED_MONTH = """_______   Thành phố Hồ Chí Minh, ngày 9 tháng 7
Số: 2345/SNNPTNT-   năm 2026
KHTC
V/v báo cáo tiến độ"""
WRAPPED_PLACE = """_______   Thành phố Hồ Chí Minh,
Số: 15/UBND-VP   ngày 9 tháng 7 năm 2026"""
MERGED = "Số: 1502/GM-SYT Khánh Hòa, ngày 20 tháng 10 năm 2026"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (WRAPPED_DATE, ("Khánh Hòa", "2026-11-20")),
        (WRAPPED_MONTH, ("Thành phố Hồ Chí Minh", "2026-07-09")),
        (WRAPPED_PLACE, ("Thành phố Hồ Chí Minh", "2026-07-09")),
        (MERGED, ("Khánh Hòa", "2026-10-20")),
    ],
)
def test_place_date_over_wrapped_cells(text: str, expected: tuple[str, str]) -> None:
    """A place/date wrapped in its cell, or merged with the number, still reads."""
    assert expected == place_date(text, first_symbol(text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (WRAPPED_DATE, "917-CV/VPTU"),
        (WRAPPED_MONTH, "2345/SNNPTNT-KHTC"),
        (MERGED, "1502/GM-SYT"),
        ("Số: 08-QĐi/   Hà Nội\nTW\n", "08-QĐi/TW"),
        ("Số: 12/UBND-   ngày 3 tháng 2\nV/v góp ý\n", "12/UBND"),
    ],
)
def test_number_symbol_over_wrapped_cells(text: str, expected: str) -> None:
    """A number/symbol wrapped after a dash or slash is joined with the next row."""
    assert expected == first_symbol(text)


def test_blank_draft_date_is_not_joined() -> None:
    """A draft's blank "ngày … tháng … năm" is not completed from the rows below."""
    text = "*   Khánh Hòa, ngày   tháng   năm 2026\nSố 12-CV/TU   2027"
    assert (None, None) == place_date(text, "12-CV/TU")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Số: 77/TB-UBND\n\nTỐI\nMẬT\n", ["MẬT", "TỐI MẬT"]),
        ("TUYỆT\nMẬT", ["MẬT", "TUYỆT MẬT"]),
        ("Số: 5/UBND   TỐI\nV/v họp   MẬT", ["MẬT", "TỐI MẬT"]),
        ("TỐI\nmật khẩu của hệ thống", []),
        ("Tối\nmật", []),
        ("BUỔI TỐI\nMẬT ĐỘ DÂN SỐ", []),
    ],
)
def test_stamp_wrapped_in_a_narrow_box(text: str, expected: list[str]) -> None:
    """ "TỐI" above "MẬT" is the TỐI MẬT stamp; prose and other words are not."""
    assert expected == [f.text for f in find_marks(text, "pdf")]
