"""The result of judging one message: a verdict and the trace of how it was reached."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mailbridge.codes import MessageVerdict, Reason

__all__ = ["Action", "TraceEntry", "Verdict"]

Action = Literal["accept", "return", "hold", "ignore"]


@dataclass(frozen=True)
class TraceEntry:
    """One built-in check or YAML rule that was looked at, hit or miss."""

    name: str
    kind: Literal["check", "rule"]
    hit: bool
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "hit": self.hit,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Verdict:
    """What the policy decided for one message.

    ``action`` is what happens to the message; ``reason`` is set when it is returned
    (or ignored for a reason); the routing fields come from the YAML rules.
    """

    action: Action
    reason: Reason | None = None
    detail: str = ""
    rule: str | None = None
    route_to: str | None = None
    priority: str | None = None
    deadline_hours: float | None = None
    tags: tuple[str, ...] = ()
    trace: tuple[TraceEntry, ...] = field(default=())

    @property
    def message_verdict(self) -> MessageVerdict:
        return {
            "accept": MessageVerdict.ACCEPTED,
            "return": MessageVerdict.RETURNED,
            "hold": MessageVerdict.HELD,
            "ignore": MessageVerdict.IGNORED,
        }[self.action]

    def trace_json(self) -> list[dict[str, Any]]:
        return [entry.as_json() for entry in self.trace]
