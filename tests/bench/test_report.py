"""The bench's table logic (no network): verdicts, ratios, sizes, and the files it writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.common import Row, percentile
from tests.bench.report import achieved, markdown, table_lines, write
from tests.bench.run import FULL, QUICK, parse_sizes


def test_a_rate_below_its_goal_is_not_met_and_carries_its_ratio_to_the_baseline() -> None:
    row = Row("write path", "write + outbox", 500.0, "writes/s", goal=2000, baseline=1000.0).judge()
    assert row.verdict == "NOT met"
    assert row.ratio == pytest.approx(0.5)


def test_a_latency_goal_is_met_at_or_below_it() -> None:
    assert Row("latency", "p99", 1.0, "s", goal=1.0, higher=False).judge().verdict == "met"
    assert Row("latency", "p99", 1.01, "s", goal=1.0, higher=False).judge().verdict == "NOT met"


def test_a_goal_relative_to_the_baseline_is_judged_on_the_ratio() -> None:
    row = Row("processor", "backlog", 30_000.0, "events/s", baseline=80_000.0, goal_ratio=0.5).judge()
    assert row.verdict == "NOT met"
    assert Row("processor", "backlog", 41_000.0, "events/s", baseline=80_000.0, goal_ratio=0.5).judge().verdict == "met"
    assert achieved(row) == pytest.approx(0.75)


def test_a_row_without_a_value_says_not_measured_and_has_no_bar() -> None:
    row = Row("failed", "intake: not finished", None, "").judge()
    assert row.verdict == "not measured"
    assert achieved(row) is None


def test_percentile_by_nearest_rank() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 51.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 99) != percentile([], 99)  # NaN: nothing measured


def test_sizes_quick_is_smaller_and_overrides_are_checked() -> None:
    assert QUICK["open_cases"] < FULL["open_cases"] == 100_000
    assert parse_sizes(["open_cases=2_000"], FULL)["open_cases"] == 2000
    with pytest.raises(SystemExit):
        parse_sizes(["no_such_size=1"], FULL)


def test_the_table_is_printed_json_and_png_written_and_copied_to_latest(tmp_path: Path) -> None:
    rows = [
        Row("baseline", "raw consume, aiokafka", 80_000.0, "msgs/s").judge(),
        Row("processor", "backlog", 500.0, "events/s", baseline=80_000.0, goal_ratio=0.5).judge(),
        Row("latency", "deadline -> alert p99", 0.5, "s", goal=1.0, higher=False).judge(),
    ]
    lines = table_lines(rows)
    assert any("NOT met" in line for line in lines) and any("| met" in line for line in lines)
    assert "| deadline -> alert p99 | 0.50 s |" in markdown(rows)
    written = write(rows, {"run": "x"}, tmp_path / "run1", tmp_path, "title")
    doc = json.loads((tmp_path / "latest.json").read_text())
    assert [r["verdict"] for r in doc["rows"]] == ["-", "NOT met", "met"]
    assert doc["run"] == "x"
    assert written["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "latest.png").read_bytes() == written["png"].read_bytes()
