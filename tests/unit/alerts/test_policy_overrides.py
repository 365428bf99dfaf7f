"""An operator's policy file overrides the shipped defaults rule by rule, key by key (issue 18 item 3)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from services.processor.domain.policy import (
    DEFAULT_POLICY_FILE,
    RULE_IDS,
    PolicyError,
    PolicyWatcher,
    load_policy,
    shipped_policy,
)

TWO_RULES = """\
rules:
  service.overdue: {after: 3d}
  legal.no_activity: {severity: high, after: 60d}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "operator-policy.yaml"
    path.write_text(text)
    return path


def test_a_file_naming_two_rules_loads_and_the_others_keep_their_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, TWO_RULES))
    defaults = shipped_policy()
    assert policy.rule("service.overdue").after == timedelta(days=3)
    assert policy.rule("service.overdue").severity == defaults.rule("service.overdue").severity  # key by key
    assert policy.rule("legal.no_activity").severity == "high"
    assert policy.rule("legal.no_activity").after == timedelta(days=60)
    for rule_id in set(RULE_IDS) - {"service.overdue", "legal.no_activity"}:
        assert policy.rule(rule_id) == defaults.rule(rule_id), rule_id
    assert policy.escalation == {}  # as written: no section, no escalation (the alerts service's contract)
    assert set(policy.rules) == set(RULE_IDS)
    assert policy.overrides == {"service.overdue": ("after",), "legal.no_activity": ("severity", "after")}


def test_escalation_is_taken_as_written(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "rules: {}\nescalation: {critical: 30min}\n"))
    assert policy.escalation_after("critical") == timedelta(minutes=30)
    assert policy.escalation_after("high") is None  # left out: never escalates
    assert policy.overrides == {"escalation": ("critical",)}


def test_a_rule_named_with_nothing_keeps_its_defaults(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "rules:\n  service.overdue:\n"))
    assert policy.rule("service.overdue") == shipped_policy().rule("service.overdue")


def test_a_rule_can_be_disabled_alone(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, "rules:\n  followup.contact_lost: {enabled: false}\n"))
    assert not policy.enabled("followup.contact_lost")
    assert policy.enabled("service.overdue")


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("rules:\n  service.overdu: {after: 3d}\n", "rules.service.overdu: unknown rule id"),
        ("rules:\n  service.overdue: {after: 3}\n", "rules.service.overdue.after: a bare number has no unit"),
        ("rules:\n  service.overdue: {after: 3m}\n", "rules.service.overdue.after: unit 'm'"),
        ("rules:\n  service.overdue: {afterr: 3d}\n", "rules.service.overdue.afterr"),
        ("rules:\n  service.overdue: {severity: urgent}\n", "rules.service.overdue.severity"),
        ("rules:\n  service.overdue: 3d\n", "rules.service.overdue: a mapping"),
        ("rules:\n  legal.victim_absent: {count: 0}\n", "rules.legal.victim_absent.count"),
        ("rules: {}\nescalation: {urgent: 1h}\n", "escalation.urgent"),
        ("rules: {}\nescalation: {high: 90}\n", "escalation.high: a bare number"),
        ("rules: {}\nescalation: {high: Rosa Quispe}\n", "escalation.high: not a duration"),
        ("rules: {}\ntimezone: UTC\n", "timezone"),
        ("escalation: {critical: 1h}\n", "rules: required"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_the_key(tmp_path: Path, text: str, names: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    message = str(err.value)
    assert message.startswith(f"{path}:"), message
    assert names in message, message
    assert "Rosa" not in message  # what was written is never repeated, only where and why


def test_every_problem_of_a_file_is_named_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  zz.unknown: {}\n  aa.unknown: {}\n  service.overdue: {after: 5}\n")
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    message = str(err.value)
    assert "rules.aa.unknown: unknown rule id" in message
    assert "also unknown: rules.zz.unknown" in message
    assert "rules.service.overdue.after: a bare number" in message


def test_the_shipped_file_is_complete_and_is_its_own_effective_policy() -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert set(policy.rules) == set(RULE_IDS)
    assert policy.overrides == {}
    assert policy == load_policy(None)


def test_effective_policy_is_described_without_case_data(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, TWO_RULES))
    described = policy.describe()
    assert described["rules"]["service.overdue"] == {
        "severity": "medium",
        "enabled": True,
        "after": "3d",
        "overridden": ["after"],
    }
    assert described["rules"]["legal.stage_overdue"]["overridden"] == []
    assert described["escalation"] == {}  # this file has no escalation section: nothing escalates
    assert list(load_policy(None).describe()["escalation"]) == ["low", "medium", "high", "critical"]
    line = policy.summary()
    assert "service.overdue[severity=medium enabled=True after=3d*]" in line
    assert "legal.no_activity[severity=high* enabled=True after=60d*]" in line
    assert all(rule_id in line for rule_id in RULE_IDS)


def test_watcher_reloads_a_partial_file(tmp_path: Path) -> None:
    path = write(tmp_path, TWO_RULES)
    watcher = PolicyWatcher(path)
    path.write_text("rules:\n  service.overdue: {after: 4d}\n")
    os.utime(path, ns=(1, 10**18))
    assert watcher.check()
    assert watcher.policy.rule("service.overdue").after == timedelta(days=4)
    assert watcher.policy.rule("legal.no_activity") == shipped_policy().rule("legal.no_activity")
