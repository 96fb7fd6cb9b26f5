"""Judging a message: the built-in checks, then the admin's rules, with a full trace.

Synchronous and pure: the worker and ``mailbridge rules test`` call the same function.
"""

from __future__ import annotations

from mailbridge.codes import Reason
from mailbridge.policy.checks import BUILTIN_CHECKS, Check
from mailbridge.policy.facts import Facts
from mailbridge.policy.rules import RuleFacts, RuleSet, evaluate_rules
from mailbridge.policy.verdict import TraceEntry, Verdict

__all__ = ["evaluate", "rule_facts"]


def rule_facts(facts: Facts) -> RuleFacts:
    """What the YAML rules may look at."""
    meta = facts.metadata
    return RuleFacts(
        sender_agency=facts.agency.code if facts.agency else None,
        recipients=facts.recipients,
        document_type=meta.document_type.value if meta else None,
        urgency=(meta.urgency.value if meta else None) or "thuong",
        signature=facts.signature_state.value,
        subject=facts.msg.subject if facts.msg else "",
    )


def evaluate(
    facts: Facts, rules: RuleSet, checks: tuple[Check, ...] = BUILTIN_CHECKS
) -> Verdict:
    """The verdict for ``facts``: the first built-in hit, else what the rules say."""
    trace: list[TraceEntry] = []
    for check in checks:
        result = check.check(facts)
        trace.append(TraceEntry(check.name, "check", result.hit, result.detail))
        if result.hit:
            return Verdict(
                action=result.action,
                reason=result.reason,
                detail=result.detail,
                trace=tuple(trace),
            )
    outcome = evaluate_rules(rules, rule_facts(facts))
    trace.extend(outcome.trace)
    common = {
        "route_to": outcome.route_to,
        "priority": outcome.priority,
        "deadline_hours": outcome.deadline_hours,
        "tags": outcome.tags,
        "rule": outcome.rule,
        "trace": tuple(trace),
    }
    if outcome.action == "reject":
        return Verdict(
            action="return",
            reason=outcome.reason or Reason.RULE,
            detail=f"rule {outcome.rule}",
            **common,  # type: ignore[arg-type]
        )
    if outcome.action == "hold":
        return Verdict(action="hold", detail=f"rule {outcome.rule}", **common)  # type: ignore[arg-type]
    return Verdict(action="accept", **common)  # type: ignore[arg-type]
