"""Running a labelled corpus through the real extraction, and scoring it.

A corpus is a folder with ``labels.yaml`` (``items: {name: {file, classification,
outcome, metadata}}``) beside its PDFs and mails. The corpus tests of the content
stage (``tests/extract``) use these to run every item exactly as the pipeline does
and to print and check the figures DOMAIN.md asks for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import yaml

from mailbridge.extract.classification import ClassificationResult, classify_message
from mailbridge.extract.metadata import DocumentMetadata, extract_metadata
from mailbridge.extract.text import PdfText, extract_office_text, extract_pdf_text
from mailbridge.message import ParsedMessage, parse_message

__all__ = [
    "HEADLINE",
    "CorpusRun",
    "FieldScore",
    "carrier_mail",
    "load_labels",
    "run_corpus",
    "score_fields",
]

#: the metadata fields DOMAIN.md sets a bar for
HEADLINE = ("number_symbol", "issue_date", "document_type", "urgency", "abstract")


@dataclass(frozen=True)
class CorpusRun:
    """One corpus item after extraction."""

    name: str
    label: dict[str, Any]
    pdf: PdfText | None
    result: ClassificationResult
    metadata: DocumentMetadata

    @property
    def outcome(self) -> str:
        """What the gate decides: "classified", "uncertain" or "clear"."""
        if self.result.classified:
            return "classified"
        return "uncertain" if self.result.uncertain else "clear"

    @property
    def level(self) -> str:
        """The level found, or "none"."""
        return self.result.level.value if self.result.level else "none"


def carrier_mail(path: Path) -> ParsedMessage:
    """A ``.eml`` item as it is; a PDF inside a clerk's mail whose subject names nothing."""
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


def load_labels(folder: Path) -> dict[str, dict[str, Any]]:
    """The ``items`` of ``folder/labels.yaml``."""
    labels = yaml.safe_load((folder / "labels.yaml").read_text(encoding="utf-8"))
    items: dict[str, dict[str, Any]] = labels["items"]
    return items


def run_corpus(folder: Path) -> list[CorpusRun]:
    """Every labelled item through text extraction, the gate and metadata."""
    runs: list[CorpusRun] = []
    for name, label in load_labels(folder).items():
        msg = carrier_mail(folder / label["file"])
        texts = {
            part.filename: extract_pdf_text(part.data, timeout=60) for part in msg.pdfs
        }
        office = {
            part.filename: text
            for part in msg.attachments
            if (text := extract_office_text(part.data, part.filename)) is not None
        }
        main = next(iter(texts.values()), None)
        result = classify_message(msg, texts, office)
        runs.append(CorpusRun(name, label, main, result, extract_metadata(main, msg)))
    return runs


@dataclass(frozen=True)
class FieldScore:
    """How often one metadata field matched its label."""

    name: str
    hits: int
    total: int
    misses: tuple[str, ...] = field(default=())

    @property
    def ratio(self) -> float:
        return self.hits / self.total if self.total else 1.0

    def line(self) -> str:
        return f"{self.name:14} {self.hits}/{self.total} = {self.ratio:.1%}"


def score_fields(runs: list[CorpusRun], fields: tuple[str, ...]) -> list[FieldScore]:
    """Per field, the items whose extracted value equals the labelled one."""
    labelled = [r for r in runs if "metadata" in r.label]
    scores = []
    for name in fields:
        misses = []
        for run in labelled:
            expected = run.label["metadata"][name]
            actual = getattr(run.metadata, name).value
            if expected != actual:
                misses.append(f"{run.name}.{name}: {expected!r} != {actual!r}")
        scores.append(
            FieldScore(name, len(labelled) - len(misses), len(labelled), tuple(misses))
        )
    return scores
