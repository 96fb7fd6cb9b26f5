"""Everything the policy judges, computed by the verify and extract stages.

Policy reads these values and never calls a verifier itself (STYLE rule 7), which is
what makes ``mailbridge rules test`` a pure dry run of the same decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailbridge.codes import SignatureState

if TYPE_CHECKING:
    from mailbridge.config.agencies import Agency
    from mailbridge.extract.classification import ClassificationResult
    from mailbridge.extract.metadata import DocumentMetadata
    from mailbridge.message import ParsedMessage
    from mailbridge.policy.attachments import AttachmentFinding
    from mailbridge.verify.clamav import ScanResult
    from mailbridge.verify.dkim import DkimResult
    from mailbridge.verify.pdf import PdfVerification
    from mailbridge.verify.pgp import PgpResult

__all__ = ["Facts", "PolicySettings"]


@dataclass(frozen=True)
class PolicySettings:
    """The parts of the config the built-in checks follow."""

    addresses: frozenset[str]
    max_message_bytes: int
    require_dkim: bool = True
    unsigned_documents: str = "accept_as_reference"


@dataclass(frozen=True)
class Facts:
    """The facts of one message."""

    settings: PolicySettings
    size: int
    recipients: tuple[str, ...]
    envelope_sender: str | None
    msg: ParsedMessage | None  # None when the bytes could not be parsed
    raw_sha256: str = ""  # of the bytes as received, parsed or not
    malformed: str | None = None
    agency: Agency | None = None
    dkim: DkimResult | None = None
    pgp: PgpResult | None = None
    classification: ClassificationResult | None = None
    attachment_findings: tuple[AttachmentFinding, ...] = ()
    scan: ScanResult | None = None
    pdfs: tuple[PdfVerification, ...] = field(default=())
    metadata: DocumentMetadata | None = None

    @property
    def main_pdf(self) -> PdfVerification | None:
        """The document itself: the first PDF (the others are annexes)."""
        return self.pdfs[0] if self.pdfs else None

    @property
    def signature_state(self) -> SignatureState:
        """The document's signature outcome, the worst news of every PDF first.

        Any modified or invalid PDF decides; else the main document's own state.
        """
        states = [p.state for p in self.pdfs]
        for worst in (SignatureState.MODIFIED, SignatureState.INVALID):
            if worst in states:
                return worst
        main = self.main_pdf
        return SignatureState.MISSING if main is None else main.state

    @property
    def legal(self) -> bool:
        """SPEC: a valid trusted signature, and none invalid or modified."""
        main = self.main_pdf
        return bool(
            main is not None
            and main.legal
            and self.signature_state
            not in (SignatureState.MODIFIED, SignatureState.INVALID)
        )

    @property
    def origin_passed(self) -> bool:
        """DKIM aligned and passing, or a PGP signature by a registered key."""
        return bool(
            (self.dkim is not None and self.dkim.ok) or (self.pgp and self.pgp.ok)
        )
