"""The alerting rules: valid for Prometheus, unit-tested with promtool, naming only exported metrics."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.deploy.promql import PROMTOOL, PROMTOOL_MISSING, ROOT, exported_metrics, metric_names

RULES = sorted((ROOT / "deploy" / "prometheus" / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yml"))
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason=PROMTOOL_MISSING)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)


def alerting_rules() -> list[dict[str, object]]:
    return [rule for path in RULES for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def test_rule_files_exist() -> None:
    assert RULES and RULE_TESTS


@needs_promtool
def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_test_rules() -> None:
    result = promtool("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_compose_prometheus_config_loads_the_rules() -> None:
    result = promtool("check", "config", "deploy/prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(RULES)} rule files found" in result.stdout, result.stdout


def test_every_rule_names_only_exported_metrics() -> None:
    exported = exported_metrics()
    unknown = {
        str(rule.get("alert") or rule.get("record")): sorted(metric_names(str(rule["expr"])) - exported)
        for rule in alerting_rules()
    }
    assert not {k: v for k, v in unknown.items() if v}, f"metrics no service exports: {unknown}"


def test_every_alert_is_unit_tested_and_documented() -> None:
    tested = {
        case["alertname"]
        for path in RULE_TESTS
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    for rule in alerting_rules():
        if "alert" not in rule:
            continue
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test in which it fires"
        labels = rule.get("labels") or {}
        assert isinstance(labels, dict) and labels.get("severity") in {"critical", "warning", "info"}, rule["alert"]
        annotations = rule.get("annotations") or {}
        assert isinstance(annotations, dict) and annotations.get("summary") and annotations.get("description")


def test_no_rule_groups_by_a_case_or_alert_id() -> None:
    # operations sees no case data: labels stay rule, severity, channel, topic, route, job
    for rule in alerting_rules():
        text = str(rule["expr"]) + yaml.safe_dump(rule.get("annotations") or {})
        for forbidden in ("case_id", "alert_id", "person_ref", "advocate_id"):
            assert forbidden not in text, f"{rule.get('alert')} mentions {forbidden}"


def test_a_rule_naming_an_unknown_metric_is_caught(tmp_path: Path) -> None:
    # the check above can fail: a typo in a metric name is not among the exported ones
    assert "centinela_legal_dlq_totl" not in exported_metrics()
    assert metric_names("increase(centinela_legal_dlq_totl[15m]) > 0") == {"centinela_legal_dlq_totl"}
