"""The labelled corpus (tests/data/corpus): the classification gate and metadata figures.

Every item runs through the real extraction (pdfminer, poppler, Tesseract); the
figures are printed (``pytest -s``) and checked against the DOMAIN.md bars: no
classified item accepted, no clean item refused or held, and at least 95% of the
five headline metadata fields right (98% is the aim).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import yaml

from mailbridge.extract.classification import ClassificationResult, classify_message
from mailbridge.extract.metadata import DocumentMetadata, extract_metadata
from mailbridge.extract.text import PdfText, extract_office_text, extract_pdf_text
from mailbridge.message import ParsedMessage, parse_message

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
HEADLINE = ("number_symbol", "issue_date", "document_type", "urgency", "abstract")

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Run:
    """One corpus item after extraction."""

    name: str
    label: dict[str, Any]
    result: ClassificationResult
    metadata: DocumentMetadata

    @property
    def outcome(self) -> str:
        if self.result.classified:
            return "classified"
        return "uncertain" if self.result.uncertain else "clear"

    @property
    def level(self) -> str:
        return self.result.level.value if self.result.level else "none"


def _message(path: Path) -> ParsedMessage:
    if path.suffix == ".eml":
        return parse_message(path.read_bytes())
    mail = EmailMessage()
    mail["From"] = "vanthu@vanphong.example.vn"
    mail["To"] = "congvan@bridge.example.vn"
    mail["Subject"] = "Gửi văn bản"
    mail["Message-ID"] = f"<{path.stem}@vanphong.example.vn>"
    mail.set_content("Xin gửi văn bản đính kèm.")
    mail.add_attachment(
        path.read_bytes(), maintype="application", subtype="pdf", filename=path.name
    )
    return parse_message(mail.as_bytes())


@pytest.fixture(scope="module")
def runs() -> list[Run]:
    labels = yaml.safe_load((CORPUS / "labels.yaml").read_text(encoding="utf-8"))
    out: list[Run] = []
    for name, label in labels["items"].items():
        msg = _message(CORPUS / label["file"])
        texts: dict[str, PdfText] = {
            part.filename: extract_pdf_text(part.data, timeout=60) for part in msg.pdfs
        }
        office = {
            part.filename: text
            for part in msg.attachments
            if (text := extract_office_text(part.data, part.filename)) is not None
        }
        result = classify_message(msg, texts, office)
        metadata = extract_metadata(next(iter(texts.values()), None), msg)
        out.append(Run(name, label, result, metadata))
    return out


def test_corpus_is_large_and_small(runs: list[Run]) -> None:
    """At least 60 labelled items, all of them together under 5 MB."""
    size = sum(path.stat().st_size for path in CORPUS.iterdir())
    assert len(runs) >= 60
    assert size < 5 * 1024 * 1024


def test_gate_confusion(runs: list[Run]) -> None:
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


def test_gate_matches_labels(runs: list[Run]) -> None:
    """Each item's level and outcome are the labelled ones."""
    expected = {r.name: (r.label["classification"], r.label["outcome"]) for r in runs}
    actual = {r.name: (r.level, r.outcome) for r in runs}
    assert expected == actual


def test_metadata_accuracy(runs: list[Run]) -> None:
    """At least 95% of number/symbol, date, type, urgency and abstract right."""
    labelled = [r for r in runs if "metadata" in r.label]
    right = total = 0
    misses: list[str] = []
    print()
    for field in (*HEADLINE, "signer_name"):
        hits = 0
        for run in labelled:
            expected = run.label["metadata"][field]
            actual = getattr(run.metadata, field).value
            if expected == actual:
                hits += 1
            elif field in HEADLINE:
                misses.append(f"{run.name}.{field}: {expected!r} != {actual!r}")
        print(f"{field:14} {hits}/{len(labelled)} = {hits / len(labelled):.1%}")
        if field in HEADLINE:
            right += hits
            total += len(labelled)
    print(f"headline fields: {right}/{total} = {right / total:.1%}")
    print("\n".join(misses))
    assert len(labelled) >= 40
    assert right / total >= 0.95, misses
