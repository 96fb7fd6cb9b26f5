"""The labelled corpus (tests/data/corpus): the classification gate and metadata figures.

Every item runs through the real extraction (pdfminer, poppler, Tesseract); the
figures are printed (``pytest -s``) and checked against the DOMAIN.md bars: no
classified item accepted, no clean item refused or held, and at least 95% of the
five headline metadata fields right (98% is the aim).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mailbridge.sample.corpus import HEADLINE, CorpusRun, run_corpus, score_fields

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs() -> list[CorpusRun]:
    """Every labelled item through the real extraction."""
    return run_corpus(CORPUS)


def test_corpus_is_large_and_small(runs: list[CorpusRun]) -> None:
    """At least 60 labelled items, all of them together under 5 MB."""
    size = sum(path.stat().st_size for path in CORPUS.iterdir())
    assert len(runs) >= 60
    assert size < 5 * 1024 * 1024


def test_gate_confusion(runs: list[CorpusRun]) -> None:
    """No classified item accepted; no clean item refused or held."""
    secret = [r for r in runs if r.label["classification"] != "none"]
    clean = [r for r in runs if r.label["outcome"] == "clear"]
    held_expected = [r for r in runs if r.label["outcome"] == "uncertain"]
    accepted_secret = [r.name for r in secret if r.outcome == "clear"]
    refused_clean = [r.name for r in clean if r.outcome == "classified"]
    held_clean = [r.name for r in clean if r.outcome == "uncertain"]
    print(
        f"\ncorpus: {len(runs)} items; classified {len(secret)}, clean {len(clean)}, "
        f"unreadable {len(held_expected)}"
    )
    print(
        f"classified refused/held: {len(secret) - len(accepted_secret)}/{len(secret)}"
    )
    print(f"classified ACCEPTED: {len(accepted_secret)} {accepted_secret}")
    print(f"clean refused: {len(refused_clean)} {refused_clean}")
    print(f"clean held: {len(held_clean)} {held_clean}")
    print(
        "unreadable held: "
        f"{sum(r.outcome == 'uncertain' for r in held_expected)}/{len(held_expected)}"
    )
    assert [] == accepted_secret
    assert [] == refused_clean
    assert [] == held_clean
    assert [] == [r.name for r in held_expected if r.outcome == "clear"]


def test_gate_matches_labels(runs: list[CorpusRun]) -> None:
    """Each item's level and outcome are the labelled ones."""
    expected = {r.name: (r.label["classification"], r.label["outcome"]) for r in runs}
    actual = {r.name: (r.level, r.outcome) for r in runs}
    assert expected == actual


def test_metadata_accuracy(runs: list[CorpusRun]) -> None:
    """At least 95% of number/symbol, date, type, urgency and abstract right."""
    labelled = [r for r in runs if "metadata" in r.label]
    scores = score_fields(runs, (*HEADLINE, "signer_name"))
    print()
    for score in scores:
        print(score.line())
    headline = [score for score in scores if score.name in HEADLINE]
    right = sum(score.hits for score in headline)
    total = sum(score.total for score in headline)
    misses = [miss for score in headline for miss in score.misses]
    print(f"headline fields: {right}/{total} = {right / total:.1%}")
    print("\n".join(misses))
    assert len(labelled) >= 40
    assert right / total >= 0.95, misses
