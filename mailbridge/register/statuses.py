"""Allowed status transitions (DOMAIN.md section 6)."""

from __future__ import annotations

from mailbridge.codes import Status
from mailbridge.errors import IllegalTransition

__all__ = ["FINAL", "TRANSITIONS", "check_transition"]

S = Status

#: completed, returned, recalled and deleted are final, except that an admin may delete
FINAL = frozenset({S.COMPLETED, S.RETURNED, S.RECALLED, S.DELETED})

_FORWARD = (S.FORWARDED, S.IN_PROGRESS, S.COMPLETED)

TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.ARRIVED: frozenset({S.ACCEPTED, S.RETURNED}),
    # a clerk may skip steps forward
    S.ACCEPTED: frozenset({*_FORWARD, S.RECALL_REQUESTED}),
    S.FORWARDED: frozenset({S.IN_PROGRESS, S.COMPLETED, S.RECALL_REQUESTED}),
    S.IN_PROGRESS: frozenset({S.COMPLETED, S.RECALL_REQUESTED}),
    S.RECALL_REQUESTED: frozenset({S.RECALLED, S.RECALL_REFUSED}),
    # a refused recall leaves the document in handling: it may go on, or be recalled again
    S.RECALL_REFUSED: frozenset({*_FORWARD, S.RECALL_REQUESTED}),
    S.COMPLETED: frozenset(),
    S.RETURNED: frozenset(),
    S.RECALLED: frozenset(),
    S.DELETED: frozenset(),
}


def check_transition(current: Status | str, target: Status | str) -> None:
    """Raise :class:`IllegalTransition` unless ``current -> target`` is allowed.

    ``deleted`` is allowed from every state but itself (an admin's act).
    """
    cur, tgt = Status(current), Status(target)
    if tgt is S.DELETED and cur is not S.DELETED:
        return
    if tgt not in TRANSITIONS[cur]:
        raise IllegalTransition(cur.value, tgt.value)
