"""deploy/grafana/render.py draws every panel of a dashboard from Prometheus range queries."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load_render() -> ModuleType:
    spec = importlib.util.spec_from_file_location("centinela_render", ROOT / "deploy" / "grafana" / "render.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_every_panel_is_drawn_from_its_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    render = load_render()
    asked: list[str] = []

    def fake_query_range(base: str, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        asked.append(expr)
        values = [[start + i * step, str(i)] for i in range(5)]
        return [{"metric": {"topic": "case-events", "job": "intake"}, "values": values}]

    monkeypatch.setattr(render, "query_range", fake_query_range)
    board = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "pipeline.json").read_text())
    page, height = render.render(board, "http://127.0.0.1:9", 30)
    targets = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    assert asked == targets
    for panel in board["panels"]:
        assert panel["title"].replace("'", "&#x27;") in page
    assert page.count("<polyline") >= sum(1 for p in board["panels"] if p["type"] == "timeseries")
    assert height > 500


def test_legend_and_units() -> None:
    render = load_render()
    assert render.legend("{{job}} → {{topic}}", {"job": "legal", "topic": "legal-events"}) == "legal → legal-events"
    assert render.fmt_value(0.25, "percentunit") == "25.0%"
    assert render.fmt_value(3 * 1024 * 1024, "bytes") == "3 MiB"
    assert render.fmt_value(0.012, "s") == "12 ms"
    with pytest.raises(ValueError):
        render.query_range("file:///etc/passwd", "up", 0, 1, 1)
