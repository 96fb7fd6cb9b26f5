"""The YAML rule language of SPEC.md section 4: loading, matching, the trace."""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mailbridge.codes import Reason
from mailbridge.errors import ConfigError
from mailbridge.policy.rules import (
    RuleFacts,
    RuleOutcome,
    RuleSet,
    evaluate_rules,
    load_rules,
)
from mailbridge.policy.verdict import TraceEntry

SHIPPED_RULES = Path(__file__).resolve().parents[2] / "rules"


def write(folder: Path, name: str, text: str) -> Path:
    """Write one rule file (dedented) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def facts(**changes: Any) -> RuleFacts:
    """An ordinary, valid document; ``changes`` replace single facts."""
    ordinary = RuleFacts(
        sender_agency="A32.01.07",
        recipients=("vanthu@bridge.example.vn",),
        document_type="CV",
        urgency="thuong",
        signature="valid",
        subject="V/v chuẩn bị hội nghị sơ kết",
    )
    return dataclasses.replace(ordinary, **changes)


def one_rule(tmp_path: Path, when: str) -> RuleSet:
    """A rule set with one rule ``r`` whose ``when`` is ``when`` (YAML, 6 spaces)."""
    write(
        tmp_path,
        "10-r.yaml",
        "rules:\n  - name: r\n    when:\n" + when + "    then:\n      route_to: cvp\n",
    )
    return load_rules(tmp_path)


def errors(tmp_path: Path) -> list[str]:
    """The issues ``load_rules`` reports for ``tmp_path``, as the admin reads them."""
    with pytest.raises(ConfigError) as caught:
        load_rules(tmp_path)
    return [str(issue) for issue in caught.value.issues]


CONDITION_CASES = [
    ("      urgency: [hoa_toc, thuong_khan]\n", {"urgency": "hoa_toc"}, {}),
    ("      urgency: thuong\n", {"urgency": None}, {"urgency": "khan"}),
    (
        '      sender_agency: ["A32.01.07"]\n',
        {"sender_agency": "a32.01.07"},
        {"sender_agency": "A32.01.08"},
    ),
    (
        "      recipient: [VanThu@Bridge.example.vn]\n",
        {"recipients": ("other@bridge.example.vn", "vanthu@bridge.example.vn")},
        {"recipients": ("other@bridge.example.vn",)},
    ),
    ("      document_type: [NQ, qd, CT]\n", {"document_type": "QD"}, {}),
    (
        '      subject_matches: "(?i)đại hội"\n',
        {"subject": "Về việc chuẩn bị ĐẠI HỘI đảng bộ"},
        {},
    ),
    ("      signature: [valid]\n", {}, {"signature": "untrusted"}),
    ("      tags: [a, b]\n", {"tags": ("x", "b")}, {"tags": ("x",)}),
]


@pytest.mark.parametrize(("when", "hit", "miss"), CONDITION_CASES)
def test_each_condition_matches_and_misses(
    tmp_path: Path, when: str, hit: dict[str, object], miss: dict[str, object]
) -> None:
    """Each condition holds for a matching fact and fails for a different one."""
    rules = one_rule(tmp_path, when)
    expected = ("cvp", None)
    actual = (
        evaluate_rules(rules, facts(**hit)).route_to,
        evaluate_rules(rules, facts(**miss)).route_to,
    )
    assert expected == actual


def test_all_conditions_of_a_rule_must_hold(tmp_path: Path) -> None:
    """With two conditions, one failing is enough to miss, and the trace says which."""
    rules = one_rule(tmp_path, "      urgency: khan\n      document_type: NQ\n")
    outcome = evaluate_rules(rules, facts(urgency="khan", document_type="CV"))
    expected = (
        TraceEntry("r", "rule", hit=False, detail="document_type: 'CV' not in [NQ]"),
    )
    assert expected == outcome.trace
    outcome = evaluate_rules(rules, facts(urgency="khan", document_type="NQ"))
    expected_route = "cvp"
    assert expected_route == outcome.route_to


def test_an_unknown_fact_never_matches(tmp_path: Path) -> None:
    """A document type the extractor could not find does not satisfy a type condition."""
    rules = one_rule(tmp_path, "      document_type: [NQ]\n")
    outcome = evaluate_rules(rules, facts(document_type=None))
    expected = "document_type: unknown not in [NQ]"
    assert expected == outcome.trace[0].detail


def test_empty_or_absent_when_matches_everything(tmp_path: Path) -> None:
    """A rule without conditions applies to every message."""
    write(
        tmp_path,
        "10-all.yaml",
        """
        rules:
          - name: no-when
            then: {tags: [a]}
          - name: empty-when
            when: {}
            then: {tags: [b]}
          - name: null-when
            when:
            then: {tags: [c]}
        """,
    )
    expected = ("a", "b", "c")
    assert expected == evaluate_rules(load_rules(tmp_path), facts()).tags


def test_every_accumulating_action_and_overriding(tmp_path: Path) -> None:
    """Later rules override route, priority and deadline; tags join in order, once."""
    write(
        tmp_path,
        "10-a.yaml",
        """
        rules:
          - name: first
            then:
              route_to: tong-hop
              priority: normal
              deadline_hours: 24
              tags: [a, b]
          - name: second
            then:
              priority: HIGH
              deadline_hours: 1.5
              tags: b
          - name: third
            then:
              tags: [c, a]
        """,
    )
    outcome = evaluate_rules(load_rules(tmp_path), facts(tags=("seed",)))
    expected = RuleOutcome(
        action=None,
        reason=None,
        rule=None,
        route_to="tong-hop",
        priority="high",
        deadline_hours=1.5,
        tags=("seed", "a", "b", "c"),
        trace=(
            TraceEntry(
                "first",
                "rule",
                hit=True,
                detail="matched: route_to=tong-hop, priority=normal, "
                "deadline_hours=24, tags=[a, b]",
            ),
            TraceEntry(
                "second",
                "rule",
                hit=True,
                detail="matched: priority=high, deadline_hours=1.5, tags=[b]",
            ),
            TraceEntry("third", "rule", hit=True, detail="matched: tags=[c, a]"),
        ),
    )
    assert expected == outcome
    assert True is outcome.ok


@pytest.mark.parametrize(
    ("then", "action", "reason"),
    [
        ("accept: true", "accept", None),
        ("reject: RULE", "reject", Reason.RULE),
        ("reject: unsigned", "reject", Reason.UNSIGNED),
        ("hold: yes", "hold", None),
    ],
)
def test_terminal_actions_stop_the_evaluation(
    tmp_path: Path, then: str, action: str, reason: Reason | None
) -> None:
    """accept, reject and hold end evaluation; later rules are traced as not evaluated."""
    write(
        tmp_path,
        "10-t.yaml",
        f"""
        rules:
          - name: before
            then: {{route_to: a}}
          - name: stop
            then: {{{then}, route_to: b}}
          - name: after
            then: {{route_to: c, tags: [never]}}
        """,
    )
    outcome = evaluate_rules(load_rules(tmp_path), facts())
    assert (action, reason, "stop", "b", ()) == (
        outcome.action,
        outcome.reason,
        outcome.rule,
        outcome.route_to,
        outcome.tags,
    )
    assert (
        TraceEntry(
            "after",
            "rule",
            hit=False,
            detail="not evaluated: rule 'stop' ended the evaluation",
        )
        == outcome.trace[-1]
    )
    assert (action == "accept") == outcome.ok


def test_tags_condition_sees_tags_of_earlier_rules(tmp_path: Path) -> None:
    """A rule can act on a tag that an earlier rule, in an earlier file, set."""
    write(
        tmp_path,
        "10-tag.yaml",
        "rules:\n  - name: tag\n    when: {urgency: hoa_toc}\n    then: {tags: [gap]}\n",
    )
    write(
        tmp_path,
        "20-use.yaml",
        "rules:\n  - name: use\n    when: {tags: gap}\n    then: {hold: true}\n",
    )
    rules = load_rules(tmp_path)
    expected = ("hold", None)
    actual = (
        evaluate_rules(rules, facts(urgency="hoa_toc")).action,
        evaluate_rules(rules, facts(urgency="khan")).action,
    )
    assert expected == actual


def test_files_run_in_name_order_and_rules_top_to_bottom(tmp_path: Path) -> None:
    """The later file (by name) overrides the earlier; hidden and other files are skipped."""
    write(tmp_path, "20-b.yml", "rules:\n  - name: b1\n    then: {route_to: b1}\n")
    write(
        tmp_path,
        "10-a.yaml",
        "rules:\n  - name: a1\n    then: {route_to: a1}\n"
        "  - name: a2\n    then: {route_to: a2}\n",
    )
    write(tmp_path, "05-notes.txt", "not rules")
    write(tmp_path, ".10-a.yaml.swp.yaml", "not: [valid")
    rules = load_rules(tmp_path)
    outcome = evaluate_rules(rules, facts())
    expected = (("a1", "a2", "b1"), ("10-a.yaml", "20-b.yml"), "b1", ("a1", "a2", "b1"))
    actual = (
        tuple(rule.name for rule in rules.rules),
        tuple(path.name for path in rules.files),
        outcome.route_to,
        outcome.hits,
    )
    assert expected == actual


def test_missing_folder_and_empty_files_give_no_rules(tmp_path: Path) -> None:
    """No folder, an empty file or ``rules:`` with nothing give an empty rule set."""
    assert RuleSet() == load_rules(tmp_path / "absent")
    write(tmp_path, "10-empty.yaml", "# nothing yet\n")
    write(tmp_path, "20-null.yaml", "rules:\n")
    rules = load_rules(tmp_path)
    outcome = evaluate_rules(rules, facts())
    expected = ((), None, (), ())
    actual = (rules.rules, outcome.action, outcome.tags, outcome.trace)
    assert expected == actual


def test_mistakes_name_file_line_and_key(tmp_path: Path) -> None:
    """Every mistake of every kind is reported at once, with file, line and key."""
    path = write(
        tmp_path,
        "20-x.yaml",
        """
        rules:
          - name: one
            when:
              urgency: [khan, gap]
              document_type: NQX
              signature: broken
              subject_matches: "(đại hội"
              recipient: vanthu
              colour: red
            then:
              priority: hgih
              deadline_hours: -1
              reject: NOPE
          - name: one
            then: {accept: true, hold: true}
          - when: {urgency: khan}
            then: {}
          - name: no-then
          - name: bad-accept
            then: {accept: false}
        """,
    )
    f = str(path)
    expected = [
        f"{f}:9: rules[0].when.colour: unknown key (expected one of urgency, "
        "sender_agency, recipient, document_type, signature, tags, subject_matches)",
        f"{f}:4: rules[0].when.urgency[1]: unknown urgency 'gap' (expected one of "
        "thuong, khan, thuong_khan, hoa_toc, hoa_toc_hen_gio)",
        f"{f}:8: rules[0].when.recipient: not an e-mail address: 'vanthu'",
        f"{f}:5: rules[0].when.document_type: unknown document type 'NQX' (expected "
        "one of NQ, QD, QDI, CT, KL, QC, TTRI, TTU, HD, TB, TC, BC, TTR, KH, CTR, DA, "
        "DAN, PA, BB, CV, CD, GM, GGT, BS, ND, OTHER)",
        f"{f}:6: rules[0].when.signature: unknown signature state 'broken' (expected "
        "one of valid, missing, invalid, untrusted, modified)",
        f"{f}:7: rules[0].when.subject_matches: invalid regular expression '(đại hội': "
        "missing ), unterminated subpattern at position 0",
        f"{f}:11: rules[0].then.priority: unknown priority 'hgih' (expected one of "
        "low, normal, high, urgent)",
        f"{f}:12: rules[0].then.deadline_hours: expected a positive number of hours",
        f"{f}:13: rules[0].then.reject: unknown reason code 'NOPE' (expected one of "
        "UNKNOWN_SENDER, WRONG_RECIPIENT, DKIM_MISSING, DKIM_FAIL, PGP_FAIL, "
        "NO_DOCUMENT, UNSIGNED, SIGNATURE_INVALID, SIGNATURE_UNTRUSTED, "
        "DOCUMENT_MODIFIED, CLASSIFIED, BANNED_ATTACHMENT, MALWARE, TOO_LARGE, "
        "MALFORMED, RULE, RECALL_UNKNOWN)",
        f"{f}:15: rules[1].then: choose one of accept, reject, hold (not accept and hold)",
        f"{f}:16: rules[2].name: every rule needs a name",
        f"{f}:17: rules[2].then: a rule needs at least one action under 'then'",
        f"{f}:18: rules[3].then: every rule needs a 'then' with an action",
        f"{f}:20: rules[4].then.accept: must be true (remove the key otherwise)",
        f"{f}:14: rules[1].name: rule name 'one' already used at {f}:2",
    ]
    assert expected == errors(tmp_path)


def test_yaml_syntax_errors_and_bad_shapes_are_reported_per_file(
    tmp_path: Path,
) -> None:
    """A syntax error names its line; other files and wrong shapes are still reported."""
    broken = write(
        tmp_path, "10-broken.yaml", "rules:\n  - name: x\n    then: {a: [1\n"
    )
    shape = write(tmp_path, "20-shape.yaml", "rule:\n  - name: y\n")
    listed = write(tmp_path, "30-list.yaml", "rules: {name: z}\n")
    bare = write(tmp_path, "40-bare.yaml", "- name: w\n  then: {hold: true}\n")
    twice = write(
        tmp_path,
        "50-twice.yaml",
        "rules:\n  - name: v\n    then: {hold: true}\n    name: u\n",
    )
    expected = [
        f"{broken}:4: YAML syntax error: while parsing a flow sequence expected ',' "
        "or ']', but got '<stream end>'",
        f"{shape}:1: rule: unknown key (expected one of rules)",
        f"{listed}:1: rules: expected a list of rules",
        f"{bare}:1: expected 'rules:' followed by a list of rules",
        f"{twice}:4: rules[0].name: key given twice",
    ]
    assert expected == errors(tmp_path)


def test_same_name_in_two_files_is_an_error(tmp_path: Path) -> None:
    """Rule names are unique across every file of the folder."""
    first = write(
        tmp_path, "10-a.yaml", "rules:\n  - name: dup\n    then: {hold: true}\n"
    )
    second = write(
        tmp_path,
        "20-b.yaml",
        "rules:\n  - name: ok\n    then: {hold: true}\n  - name: dup\n    then: {hold: true}\n",
    )
    expected = [f"{second}:4: rules[1].name: rule name 'dup' already used at {first}:2"]
    assert expected == errors(tmp_path)


def test_text_is_read_as_written_and_nfc(tmp_path: Path) -> None:
    """Scalars are kept as text (no YAML booleans) and decomposed Vietnamese is NFC."""
    decomposed = "đa\u0323i hô\u0323i"  # "đại hội" typed with combining marks
    write(
        tmp_path,
        "10-nfc.yaml",
        f'rules:\n  - name: r\n    when:\n      subject_matches: "{decomposed}"\n'
        "      sender_agency: [no]\n    then: {tags: [yes]}\n",
    )
    rules = load_rules(tmp_path)
    outcome = evaluate_rules(
        rules, facts(subject="Về đại hội đại biểu", sender_agency="NO")
    )
    expected = ("yes",)
    assert expected == outcome.tags


def test_shipped_rules_load_and_let_ordinary_documents_through() -> None:
    """The project's rules/ folder loads and no shipped rule returns or holds a document."""
    rules = load_rules(SHIPPED_RULES)
    expected_files = ("10-khan-hoa-toc.yaml", "50-vi-du.yaml")
    assert expected_files == tuple(p.name for p in rules.files)
    for urgency in (
        "thuong",
        "khan",
        "thuong_khan",
        "hoa_toc",
        "hoa_toc_hen_gio",
        None,
    ):
        for document_type in ("NQ", "CV", "GM", None):
            for signature in ("valid", "missing"):
                outcome = evaluate_rules(
                    rules,
                    facts(
                        urgency=urgency,
                        document_type=document_type,
                        signature=signature,
                    ),
                )
                expected = (None, True)
                assert expected == (outcome.action, outcome.ok)


def test_shipped_flash_rule_sets_priority_and_deadline() -> None:
    """A hỏa tốc resolution goes to the chief of office, urgent, within 2 hours."""
    outcome = evaluate_rules(
        load_rules(SHIPPED_RULES), facts(urgency="hoa_toc", document_type="NQ")
    )
    expected = ("chanh-van-phong", "urgent", 2.0, ("hoa-toc", "lanh-dao"))
    assert expected == (
        outcome.route_to,
        outcome.priority,
        outcome.deadline_hours,
        outcome.tags,
    )
