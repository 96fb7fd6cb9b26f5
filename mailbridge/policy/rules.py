"""The admin's YAML rules (SPEC.md section 4): matching facts against them.

Rules run top to bottom, across files in name order. A rule whose ``when`` holds
applies its ``then``: ``accept``, ``reject`` and ``hold`` end the evaluation; the
other actions accumulate, a later rule overriding an earlier one, tags joining in
order. Every rule appears in the trace, hit or miss, with the reason.

Evaluation is pure and synchronous. The model and the loader are in
:mod:`mailbridge.policy.rules_load` and re-exported here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from mailbridge.codes import Reason, Urgency
from mailbridge.policy.rules_load import (
    PRIORITIES,
    Actions,
    Conditions,
    Rule,
    RuleSet,
    load_rules,
)
from mailbridge.policy.verdict import TraceEntry

__all__ = [
    "PRIORITIES",
    "Actions",
    "Conditions",
    "Rule",
    "RuleFacts",
    "RuleOutcome",
    "RuleSet",
    "evaluate_rules",
    "load_rules",
]

log = logging.getLogger("mailbridge.policy")


@dataclass(frozen=True)
class RuleFacts:
    """What the rules may look at, for one message.

    ``urgency`` is a key of DOMAIN.md section 4; ``None`` (no urgency mark found)
    counts as ``thuong``. ``signature`` is the document's
    :class:`~mailbridge.codes.SignatureState` value. ``tags`` are set before the rules.
    """

    sender_agency: str | None
    recipients: tuple[str, ...]
    document_type: str | None
    urgency: str | None
    signature: str
    subject: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleOutcome:
    """What the rules decided.

    ``action`` is ``None`` when no terminal rule fired; ``rule`` names the rule that
    ended the evaluation; ``reason`` is set with ``reject``.
    """

    action: Literal["accept", "reject", "hold"] | None
    reason: Reason | None
    rule: str | None
    route_to: str | None
    priority: str | None
    deadline_hours: float | None
    tags: tuple[str, ...]
    trace: tuple[TraceEntry, ...]

    @property
    def ok(self) -> bool:
        """True when the rules let the message through without a clerk."""
        return self.action in (None, "accept")

    @property
    def hits(self) -> tuple[str, ...]:
        """Names of the rules that matched, in order."""
        return tuple(entry.name for entry in self.trace if entry.hit)


def _listing(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(values) + "]"


def _miss(
    conditions: Conditions, facts: RuleFacts, tags: tuple[str, ...]
) -> str | None:
    """Why ``conditions`` do not hold for ``facts`` (``None`` when they all hold)."""
    urgency = facts.urgency or Urgency.THUONG.value
    singles: tuple[tuple[str, tuple[str, ...] | None, str | None], ...] = (
        ("urgency", conditions.urgency, urgency.lower()),
        ("sender_agency", conditions.sender_agency, _upper(facts.sender_agency)),
        ("document_type", conditions.document_type, _upper(facts.document_type)),
        ("signature", conditions.signature, facts.signature.lower()),
    )
    for name, wanted, actual in singles:
        if wanted is not None and actual not in wanted:
            shown = "unknown" if actual is None else repr(actual)
            return f"{name}: {shown} not in {_listing(wanted)}"
    if conditions.recipient is not None:
        recipients = tuple(r.casefold() for r in facts.recipients)
        if not set(recipients) & set(conditions.recipient):
            return (
                f"recipient: {_listing(recipients)} has none of "
                f"{_listing(conditions.recipient)}"
            )
    pattern = conditions.subject_matches
    if pattern is not None and pattern.search(facts.subject) is None:
        return f"subject_matches: {facts.subject!r} does not match {pattern.pattern!r}"
    if conditions.tags is not None and not set(tags) & set(conditions.tags):
        return f"tags: {_listing(tags)} has none of {_listing(conditions.tags)}"
    return None


def _upper(value: str | None) -> str | None:
    return None if value is None else value.upper()


def _describe(actions: Actions) -> str:
    parts: list[str] = []
    if actions.route_to is not None:
        parts.append(f"route_to={actions.route_to}")
    if actions.priority is not None:
        parts.append(f"priority={actions.priority}")
    if actions.deadline_hours is not None:
        parts.append(f"deadline_hours={actions.deadline_hours:g}")
    if actions.tags:
        parts.append(f"tags={_listing(actions.tags)}")
    if actions.accept:
        parts.append("accept")
    if actions.reject is not None:
        parts.append(f"reject={actions.reject.value}")
    if actions.hold:
        parts.append("hold")
    return "matched: " + ", ".join(parts)


def evaluate_rules(rules: RuleSet, facts: RuleFacts) -> RuleOutcome:
    """Run ``rules`` over ``facts`` and say what they decided, with the full trace."""
    route_to: str | None = None
    priority: str | None = None
    deadline: float | None = None
    tags: list[str] = list(dict.fromkeys(facts.tags))
    trace: list[TraceEntry] = []
    ended: Rule | None = None
    for rule in rules.rules:
        if ended is not None:
            detail = f"not evaluated: rule {ended.name!r} ended the evaluation"
            trace.append(TraceEntry(rule.name, "rule", hit=False, detail=detail))
            continue
        why = _miss(rule.when, facts, tuple(tags))
        if why is not None:
            trace.append(TraceEntry(rule.name, "rule", hit=False, detail=why))
            continue
        then = rule.then
        route_to = then.route_to if then.route_to is not None else route_to
        priority = then.priority if then.priority is not None else priority
        deadline = then.deadline_hours if then.deadline_hours is not None else deadline
        tags.extend(tag for tag in then.tags if tag not in tags)
        trace.append(TraceEntry(rule.name, "rule", hit=True, detail=_describe(then)))
        if then.terminal:
            ended = rule
    action: Literal["accept", "reject", "hold"] | None = None
    reason: Reason | None = None
    if ended is not None:
        reason = ended.then.reject
        if ended.then.accept:
            action = "accept"
        elif reason is not None:
            action = "reject"
        else:
            action = "hold"
        log.debug("rule %s ended the evaluation: %s", ended.name, action)
    return RuleOutcome(
        action=action,
        reason=reason,
        rule=None if ended is None else ended.name,
        route_to=route_to,
        priority=priority,
        deadline_hours=deadline,
        tags=tuple(tags),
        trace=tuple(trace),
    )
