"""The admin's YAML rules (SPEC.md section 4): the model and a loader that names
the file, line and key of every mistake.

The files ``*.yaml``/``*.yml`` of the rules folder are read in name order and
composed with ``yaml.compose`` (SafeLoader), so each node keeps its position. Every
issue found in every file is collected and raised at once as one
:class:`~mailbridge.errors.ConfigError`. Text is NFC-normalised as it is read.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mailbridge.codes import DOCUMENT_TYPE_NAMES, Reason, SignatureState, Urgency
from mailbridge.errors import ConfigError, ConfigIssue

__all__ = [
    "PRIORITIES",
    "Actions",
    "Conditions",
    "Rule",
    "RuleSet",
    "load_rules",
]

#: The values ``then.priority`` may take (mailbridge).
PRIORITIES = ("low", "normal", "high", "urgent")

_BOOL = "tag:yaml.org,2002:bool"
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
_LIST_CONDITIONS = (
    "urgency",
    "sender_agency",
    "recipient",
    "document_type",
    "signature",
    "tags",
)
_WHEN_KEYS = (*_LIST_CONDITIONS, "subject_matches")
_THEN_KEYS = (
    "route_to",
    "priority",
    "deadline_hours",
    "tags",
    "accept",
    "reject",
    "hold",
)
_RULE_KEYS = ("name", "description", "when", "then")


@dataclass(frozen=True)
class Conditions:
    """A rule's ``when``: ``None`` means the condition is absent (always holds)."""

    urgency: tuple[str, ...] | None = None
    sender_agency: tuple[str, ...] | None = None
    recipient: tuple[str, ...] | None = None
    document_type: tuple[str, ...] | None = None
    subject_matches: re.Pattern[str] | None = None
    signature: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Actions:
    """A rule's ``then``; ``accept``, ``reject`` and ``hold`` end the evaluation."""

    route_to: str | None = None
    priority: str | None = None
    deadline_hours: float | None = None
    tags: tuple[str, ...] = ()
    accept: bool = False
    reject: Reason | None = None
    hold: bool = False

    @property
    def terminal(self) -> bool:
        return self.accept or self.hold or self.reject is not None


@dataclass(frozen=True)
class Rule:
    """One named rule, with the place it was written."""

    name: str
    when: Conditions
    then: Actions
    file: Path
    line: int
    description: str = ""


@dataclass(frozen=True)
class RuleSet:
    """Every rule in evaluation order, and the files they came from."""

    rules: tuple[Rule, ...] = ()
    files: tuple[Path, ...] = field(default=())


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class _Reader:
    """Turns the composed nodes of one file into rules, collecting issues."""

    def __init__(self, path: Path, issues: list[ConfigIssue]) -> None:
        self.path = path
        self.issues = issues

    def issue(self, node: yaml.Node | None, key: str, message: str) -> None:
        line = None if node is None else node.start_mark.line + 1
        self.issues.append(ConfigIssue(str(self.path), line, key, message))

    def mapping(
        self, node: yaml.Node, key: str, allowed: tuple[str, ...]
    ) -> dict[str, tuple[yaml.Node, yaml.Node]] | None:
        """The entries of a mapping node by key; unknown and repeated keys are issues."""
        if not isinstance(node, yaml.MappingNode):
            self.issue(node, key, "expected a mapping of keys to values")
            return None
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            name = str(key_node.value)
            where = f"{key}.{name}" if key else name
            if not isinstance(key_node, yaml.ScalarNode) or name not in allowed:
                self.issue(
                    key_node,
                    where,
                    f"unknown key (expected one of {', '.join(allowed)})",
                )
            elif name in entries:
                self.issue(key_node, where, "key given twice")
            else:
                entries[name] = (key_node, value_node)
        return entries

    def text(self, node: yaml.Node, key: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            value = _nfc(str(node.value)).strip()
            if value:
                return value
        self.issue(node, key, "expected a non-empty text value")
        return None

    def texts(self, node: yaml.Node, key: str) -> Iterator[tuple[yaml.Node, str, str]]:
        """(node, key, text) for a scalar or each item of a list; a scalar is one item."""
        if isinstance(node, yaml.ScalarNode):
            items: list[tuple[yaml.Node, str]] = [(node, key)]
        elif isinstance(node, yaml.SequenceNode) and node.value:
            items = [(item, f"{key}[{i}]") for i, item in enumerate(node.value)]
        else:
            self.issue(node, key, "expected a value or a non-empty list of values")
            return
        for item, where in items:
            value = self.text(item, where)
            if value is not None:
                yield item, where, value

    def flag(self, node: yaml.Node, key: str) -> bool:
        is_bool = isinstance(node, yaml.ScalarNode) and node.tag == _BOOL
        if is_bool and yaml.safe_load(node.value) is True:
            return True
        self.issue(node, key, "must be true (remove the key otherwise)")
        return False

    def conditions(self, node: yaml.Node, key: str) -> Conditions:
        if node.tag == "tag:yaml.org,2002:null":
            return Conditions()
        entries = self.mapping(node, key, _WHEN_KEYS)
        if entries is None:
            return Conditions()
        found: dict[str, tuple[str, ...]] = {}
        for name in _LIST_CONDITIONS:
            if name in entries:
                found[name] = tuple(self.condition(name, entries[name][1], key))
        pattern = None
        if "subject_matches" in entries:
            pattern = self.regex(
                entries["subject_matches"][1], f"{key}.subject_matches"
            )
        return Conditions(subject_matches=pattern, **found)

    def condition(self, name: str, node: yaml.Node, key: str) -> Iterator[str]:
        for item, where, value in self.texts(node, f"{key}.{name}"):
            if name == "urgency":
                value = value.lower()
                if value not in tuple(Urgency):
                    self.issue(item, where, _unknown("urgency", value, tuple(Urgency)))
                    continue
            elif name == "document_type":
                value = value.upper()
                if value not in DOCUMENT_TYPE_NAMES:
                    types = DOCUMENT_TYPE_NAMES
                    self.issue(item, where, _unknown("document type", value, types))
                    continue
            elif name == "signature":
                value = value.lower()
                if value not in tuple(SignatureState):
                    states = tuple(SignatureState)
                    self.issue(item, where, _unknown("signature state", value, states))
                    continue
            elif name == "sender_agency":
                value = value.upper()
            elif name == "recipient":
                value = value.casefold()
                if "@" not in value:
                    self.issue(item, where, f"not an e-mail address: {value!r}")
                    continue
            yield value

    def regex(self, node: yaml.Node, key: str) -> re.Pattern[str] | None:
        source = self.text(node, key)
        if source is None:
            return None
        try:
            return re.compile(source)
        except re.error as exc:
            self.issue(node, key, f"invalid regular expression {source!r}: {exc}")
            return None

    def actions(self, node: yaml.Node, key: str) -> Actions:
        entries = self.mapping(node, key, _THEN_KEYS)
        if entries is None:
            return Actions()
        if not entries:
            self.issue(node, key, "a rule needs at least one action under 'then'")
        get = {name: (value, f"{key}.{name}") for name, (_k, value) in entries.items()}
        terminal = [n for n in ("accept", "reject", "hold") if n in get]
        if len(terminal) > 1:
            both = " and ".join(terminal)
            self.issue(node, key, f"choose one of accept, reject, hold (not {both})")
        return Actions(
            route_to=self.text(*get["route_to"]) if "route_to" in get else None,
            priority=self.choice(*get["priority"]) if "priority" in get else None,
            deadline_hours=self.hours(*get["deadline_hours"])
            if "deadline_hours" in get
            else None,
            tags=tuple(v for _n, _w, v in self.texts(*get["tags"]))
            if "tags" in get
            else (),
            accept="accept" in get and self.flag(*get["accept"]),
            reject=self.reason(*get["reject"]) if "reject" in get else None,
            hold="hold" in get and self.flag(*get["hold"]),
        )

    def choice(self, node: yaml.Node, key: str) -> str | None:
        priority = self.text(node, key)
        if priority is None:
            return None
        if priority.lower() not in PRIORITIES:
            self.issue(node, key, _unknown("priority", priority, PRIORITIES))
            return None
        return priority.lower()

    def reason(self, node: yaml.Node, key: str) -> Reason | None:
        code = self.text(node, key)
        if code is None:
            return None
        if code.upper() not in tuple(Reason):
            self.issue(node, key, _unknown("reason code", code, tuple(Reason)))
            return None
        return Reason(code.upper())

    def hours(self, node: yaml.Node, key: str) -> float | None:
        if isinstance(node, yaml.ScalarNode) and node.tag in _NUMBERS:
            hours = float(yaml.safe_load(node.value))
            if hours > 0 and math.isfinite(hours):
                return hours
        self.issue(node, key, "expected a positive number of hours")
        return None

    def rule(self, node: yaml.Node, key: str) -> Rule | None:
        entries = self.mapping(node, key, _RULE_KEYS)
        if entries is None:
            return None
        name = None
        if "name" in entries:
            name = self.text(entries["name"][1], f"{key}.name")
        else:
            self.issue(node, f"{key}.name", "every rule needs a name")
        description = ""
        if "description" in entries:
            description = (
                self.text(entries["description"][1], f"{key}.description") or ""
            )
        when = Conditions()
        if "when" in entries:
            when = self.conditions(entries["when"][1], f"{key}.when")
        then = Actions()
        if "then" in entries:
            then = self.actions(entries["then"][1], f"{key}.then")
        else:
            self.issue(node, f"{key}.then", "every rule needs a 'then' with an action")
        if name is None:
            return None
        line = node.start_mark.line + 1
        return Rule(name, when, then, self.path, line, description)

    def document(self, root: yaml.Node | None) -> list[tuple[str, Rule]]:
        """The rules of a file, each with its key (``rules[3]``)."""
        if root is None:  # an empty file
            return []
        if not isinstance(root, yaml.MappingNode):
            self.issue(root, "", "expected 'rules:' followed by a list of rules")
            return []
        entries = self.mapping(root, "", ("rules",))
        if entries is None or "rules" not in entries:
            return []
        node = entries["rules"][1]
        if node.tag == "tag:yaml.org,2002:null":
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.issue(node, "rules", "expected a list of rules")
            return []
        keyed = ((f"rules[{i}]", item) for i, item in enumerate(node.value))
        rules = ((key, self.rule(item, key)) for key, item in keyed)
        return [(key, rule) for key, rule in rules if rule is not None]


def _unknown(what: str, value: str, expected: Iterable[object]) -> str:
    choices = ", ".join(str(v) for v in expected)
    return f"unknown {what} {value!r} (expected one of {choices})"


def _read_file(path: Path, issues: list[ConfigIssue]) -> list[tuple[str, Rule]]:
    reader = _Reader(path, issues)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(ConfigIssue(str(path), None, "", f"cannot read the file: {exc}"))
        return []
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        issues.append(ConfigIssue(str(path), line, "", f"YAML syntax error: {problem}"))
        return []
    except yaml.YAMLError as exc:
        issues.append(ConfigIssue(str(path), None, "", f"YAML error: {exc}"))
        return []
    return reader.document(root)


def load_rules(rules_dir: Path) -> RuleSet:
    """Read every rule file of ``rules_dir`` in name order.

    A missing folder is an empty rule set. Any mistake in any file raises one
    :class:`ConfigError` that lists every issue with its file, line and key.
    """
    if not rules_dir.exists():
        return RuleSet()
    if not rules_dir.is_dir():
        raise ConfigError([ConfigIssue(str(rules_dir), None, "", "not a folder")])
    files = sorted(
        (
            p
            for p in rules_dir.iterdir()
            if p.suffix in (".yaml", ".yml")
            and not p.name.startswith(".")
            and p.is_file()
        ),
        key=lambda p: p.name,
    )
    issues: list[ConfigIssue] = []
    rules: list[Rule] = []
    seen: dict[str, Rule] = {}
    for path in files:
        for key, rule in _read_file(path, issues):
            first = seen.get(rule.name)
            if first is not None:
                issues.append(
                    ConfigIssue(
                        str(path),
                        rule.line,
                        f"{key}.name",
                        f"rule name {rule.name!r} already used at {first.file}:{first.line}",
                    )
                )
                continue
            seen[rule.name] = rule
            rules.append(rule)
    if issues:
        raise ConfigError(issues)
    return RuleSet(tuple(rules), tuple(files))
