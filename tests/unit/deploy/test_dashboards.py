"""Grafana dashboards as code: provisioned from deploy/, every query parses and names exported metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.promql import (
    PROMTOOL,
    PROMTOOL_MISSING,
    ROOT,
    exported_metrics,
    grafana_to_promql,
    metric_names,
    promtool_parse,
)

DASHBOARDS = sorted((ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
PROVISIONING = ROOT / "deploy" / "docker" / "grafana" / "provisioning"
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in board["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # panels inside a collapsed row
    return out


def queries() -> list[tuple[str, str]]:
    """(dashboard / panel, PromQL) for every query of every dashboard."""
    return [
        (f"{path.stem} / {panel['title']}", grafana_to_promql(target["expr"]))
        for path in DASHBOARDS
        for panel in panels(load(path))
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def datasource_uid() -> str:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())["datasources"]
    return str(next(d["uid"] for d in ds if d["type"] == "prometheus"))


def test_the_four_dashboards_exist_with_unique_uids() -> None:
    boards = {path.stem: load(path) for path in DASHBOARDS}
    assert {"pipeline", "services", "alerts", "justice-access"} <= set(boards)
    uids = [b["uid"] for b in boards.values()]
    assert len(uids) == len(set(uids))
    for name, board in boards.items():
        ids = [p["id"] for p in panels(board)]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        assert any(p.get("targets") for p in panels(board)), f"{name} has no query"


def test_every_query_uses_the_provisioned_datasource() -> None:
    uid = datasource_uid()
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                for ds in (panel.get("datasource"), target.get("datasource")):
                    assert ds == {"type": "prometheus", "uid": uid}, f"{path.name} / {panel['title']}: {ds}"


def test_compose_provisions_the_dashboards_and_the_rules() -> None:
    provider = yaml.safe_load((PROVISIONING / "dashboards" / "centinela.yml").read_text())["providers"][0]
    mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in COMPOSE["services"]["grafana"]["volumes"]}
    assert mounts[provider["options"]["path"]] == "./deploy/grafana/dashboards"
    assert mounts["/etc/grafana/provisioning"] == "./deploy/docker/grafana/provisioning"
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    prom_mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in COMPOSE["services"]["prometheus"]["volumes"]}
    for pattern in prometheus["rule_files"]:
        directory = str(Path(pattern).parent)
        assert prom_mounts[f"/etc/prometheus/{directory}"] == f"./deploy/{directory}", pattern


@pytest.mark.skipif(PROMTOOL is None, reason=PROMTOOL_MISSING)
def test_every_query_parses(tmp_path: Path) -> None:
    all_queries = queries()
    result = promtool_parse(all_queries, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(all_queries)} rules found" in result.stdout


def test_every_query_names_only_exported_metrics() -> None:
    exported = exported_metrics()
    unknown = {where: sorted(metric_names(expr) - exported) for where, expr in queries()}
    assert not {k: v for k, v in unknown.items() if v}, f"metrics no service exports: {unknown}"
    named = set().union(*(metric_names(expr) for _, expr in queries()))
    assert len(named) >= 30, "the dashboards cover the services' metrics"


def test_metric_name_extraction() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(centinela_x_seconds_bucket{route=~"/v1/.+"}[5m])))'
        " / on (job) group_left sum without (instance) (up offset 5m) > bool 1e3"
        " or time() - max(centinela_y_timestamp_seconds) and vector(1)"
    )
    assert metric_names(expr) == {"centinela_x_seconds_bucket", "up", "centinela_y_timestamp_seconds"}


def test_the_catalogue_is_derived_from_the_code() -> None:
    exported = exported_metrics()
    # a constant name, a histogram's samples, and names built per service at run time
    assert {"centinela_legal_dlq_total", "centinela_alerts_rule_evaluation_seconds_bucket"} <= exported
    assert {"centinela_intake_http_requests_total", "centinela_legal_outbox_backlog_events"} <= exported
    assert "centinela_legal_dlq" not in exported and "centinela_nope_total" not in exported
