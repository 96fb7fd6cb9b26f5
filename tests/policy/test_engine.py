"""The built-in checks in their fixed order, then the rules, with a full trace."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from mailbridge.codes import Classification, Reason, SignatureState
from mailbridge.config.agencies import Agency
from mailbridge.extract.classification import (
    ClassificationFinding,
    ClassificationResult,
)
from mailbridge.message import parse_message
from mailbridge.policy.attachments import AttachmentFinding
from mailbridge.policy.checks import BUILTIN_CHECKS
from mailbridge.policy.engine import evaluate
from mailbridge.policy.facts import Facts, PolicySettings
from mailbridge.policy.rules import RuleSet, load_rules
from mailbridge.sample.mail import document_mail, to_bytes
from mailbridge.verify.clamav import ScanResult
from mailbridge.verify.dkim import DkimResult, DkimSignatureResult
from mailbridge.verify.pdf import PdfSignatureResult, PdfVerification
from mailbridge.verify.pgp import PgpResult

OURS = "vanthu@bridge.example.vn"
AGENCY = Agency(
    "A32.01.07", "Đảng ủy phường Phan Rang", ("vanthu@phanrang.example.vn",)
)
NO_RULES = RuleSet(rules=(), files=())


def dkim(*, passed: bool = True, aligned: bool = True) -> DkimResult:
    sig = DkimSignatureResult(
        "phanrang.example.vn", "mail", "rsa-sha256", passed, aligned, False, False, "ok"
    )
    return DkimResult(
        True, passed, aligned, "phanrang.example.vn", "mail", "ok", (sig,)
    )


def signature(state: SignatureState) -> PdfSignatureResult:
    return PdfSignatureResult(
        field_name="Signature1",
        state=state,
        intact=state is not SignatureState.INVALID,
        valid=state is not SignatureState.INVALID,
        trusted=state is SignatureState.VALID,
        coverage="entire_file",
        modified_after=state is SignatureState.MODIFIED,
        signer_name="Nguyễn Văn An",
        organisation="Văn phòng Tỉnh ủy",
        signing_time=datetime(2026, 11, 20, 2, 0, tzinfo=UTC),
        signing_time_quirk=False,
        cert_valid_at_signing=True,
        subfilter="ETSI.CAdES.detached",
        detail=f"signature {state.value}",
    )


def pdf(*states: SignatureState) -> PdfVerification:
    return PdfVerification("cv.pdf", "ab" * 32, tuple(signature(s) for s in states))


CLEAR = ClassificationResult(None, (), ())


@pytest.fixture
def facts() -> Facts:
    """A message that passes every built-in check."""
    msg = parse_message(to_bytes(document_mail(subject="Công văn số 917-CV/VPTU")))
    return Facts(
        settings=PolicySettings(
            addresses=frozenset({OURS}), max_message_bytes=1_000_000
        ),
        size=len(msg.raw),
        recipients=(OURS,),
        envelope_sender="vanthu@phanrang.example.vn",
        msg=msg,
        agency=AGENCY,
        dkim=dkim(),
        classification=CLEAR,
        pdfs=(pdf(SignatureState.VALID),),
    )


def test_a_clean_message_is_accepted_with_every_check_traced(facts: Facts) -> None:
    """Every built-in check appears in the trace as a miss, in the fixed order."""
    verdict = evaluate(facts, NO_RULES)
    assert ("accept", None) == (verdict.action, verdict.reason)
    assert [c.name for c in BUILTIN_CHECKS] == [e.name for e in verdict.trace]
    assert not any(e.hit for e in verdict.trace)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"recipients": ("other@bridge.example.vn",)}, Reason.WRONG_RECIPIENT),
        ({"msg": None, "malformed": "no header fields"}, Reason.MALFORMED),
        ({"size": 2_000_000}, Reason.TOO_LARGE),
        (
            {
                "classification": ClassificationResult(
                    Classification.MAT,
                    (ClassificationFinding(Classification.MAT, "subject", "MẬT"),),
                    (),
                )
            },
            Reason.CLASSIFIED,
        ),
        (
            {
                "attachment_findings": (
                    AttachmentFinding("x.pdf.exe", Reason.BANNED_ATTACHMENT, "exe"),
                )
            },
            Reason.BANNED_ATTACHMENT,
        ),
        (
            {"scan": ScanResult(infected=True, signature="Eicar", detail="")},
            Reason.MALWARE,
        ),
        ({"agency": None}, Reason.UNKNOWN_SENDER),
        (
            {"dkim": DkimResult(False, False, False, None, None, "none", ())},
            Reason.DKIM_MISSING,
        ),
        ({"dkim": dkim(passed=False)}, Reason.DKIM_FAIL),
        ({"dkim": dkim(aligned=False)}, Reason.DKIM_FAIL),
        (
            {"pgp": PgpResult(True, True, "AB" * 20, False, "another key")},
            Reason.PGP_FAIL,
        ),
        ({"pdfs": ()}, Reason.NO_DOCUMENT),
        (
            {"pdfs": (pdf(SignatureState.VALID, SignatureState.MODIFIED),)},
            Reason.DOCUMENT_MODIFIED,
        ),
        ({"pdfs": (pdf(SignatureState.INVALID),)}, Reason.SIGNATURE_INVALID),
        ({"pdfs": (pdf(SignatureState.UNTRUSTED),)}, Reason.SIGNATURE_UNTRUSTED),
    ],
)
def test_each_builtin_check_returns_its_reason(
    facts: Facts, change: dict, reason: Reason
) -> None:
    """The first check that hits decides; the trace stops there with the hit last."""
    verdict = evaluate(replace(facts, **change), NO_RULES)
    assert ("return", reason) == (verdict.action, verdict.reason)
    assert verdict.trace[-1].hit
    assert [False] * (len(verdict.trace) - 1) == [e.hit for e in verdict.trace[:-1]]


def test_classification_comes_before_origin(facts: Facts) -> None:
    """A classified mail from an unknown sender is still CLASSIFIED (the content is purged)."""
    marked = ClassificationResult(
        Classification.TOI_MAT,
        (ClassificationFinding(Classification.TOI_MAT, "pdf:page-1", "TỐI MẬT"),),
        (),
    )
    verdict = evaluate(replace(facts, agency=None, classification=marked), NO_RULES)
    assert Reason.CLASSIFIED == verdict.reason


def test_pgp_by_registered_key_replaces_dkim(facts: Facts) -> None:
    """No DKIM at all, but PGP/MIME by the agency's key: the origin check passes."""
    no_dkim = DkimResult(False, False, False, None, None, "none", ())
    good = PgpResult(True, True, "AB" * 20, True, "ok")
    assert "accept" == evaluate(replace(facts, dkim=no_dkim, pgp=good), NO_RULES).action


def test_unsigned_follows_policy(facts: Facts) -> None:
    """Unsigned: accepted for reference by default, UNSIGNED when policy says reject."""
    unsigned = replace(facts, pdfs=(pdf(),))
    assert "accept" == evaluate(unsigned, NO_RULES).action
    assert not unsigned.legal
    strict = replace(
        unsigned, settings=replace(facts.settings, unsigned_documents="reject")
    )
    assert Reason.UNSIGNED == evaluate(strict, NO_RULES).reason


def test_require_dkim_false_accepts_registered_address(facts: Facts) -> None:
    """With policy.require_dkim false the registered address alone is the origin."""
    relaxed = replace(
        facts,
        dkim=DkimResult(False, False, False, None, None, "none", ()),
        settings=replace(facts.settings, require_dkim=False),
    )
    assert "accept" == evaluate(relaxed, NO_RULES).action


def test_unreadable_content_is_held_and_rules_cannot_accept_it(
    facts: Facts, tmp_path
) -> None:
    """Classification not ruled out: held, even with a rule that would accept everything."""
    (tmp_path / "10-accept.yaml").write_text(
        "rules:\n  - name: accept-all\n    then:\n      accept: true\n", "utf-8"
    )
    uncertain = replace(
        facts, classification=ClassificationResult(None, (), ("pdf:cv.pdf:page 1",))
    )
    verdict = evaluate(uncertain, load_rules(tmp_path))
    assert ("hold", None) == (verdict.action, verdict.reason)
    assert "classification-uncertain" == verdict.trace[-1].name


def test_rules_run_after_the_checks_and_accumulate(facts: Facts, tmp_path) -> None:
    """A rule's route/tags/deadline reach the verdict; reject: RULE names the rule."""
    (tmp_path / "10-route.yaml").write_text(
        "rules:\n"
        "  - name: route\n    when: {sender_agency: [A32.01.07]}\n"
        "    then: {route_to: chanh-van-phong, tags: [a], deadline_hours: 4}\n"
        "  - name: refuse\n    when: {subject_matches: '(?i)thử nghiệm'}\n"
        "    then: {reject: RULE}\n",
        "utf-8",
    )
    rules = load_rules(tmp_path)
    verdict = evaluate(facts, rules)
    assert ("accept", "chanh-van-phong", ("a",), 4.0) == (
        verdict.action,
        verdict.route_to,
        verdict.tags,
        verdict.deadline_hours,
    )
    assert ["route", "refuse"] == [e.name for e in verdict.trace if e.kind == "rule"]
    msg = parse_message(to_bytes(document_mail(subject="Thử nghiệm gửi văn bản")))
    refused = evaluate(replace(facts, msg=msg), rules)
    assert ("return", Reason.RULE, "refuse") == (
        refused.action,
        refused.reason,
        refused.rule,
    )
