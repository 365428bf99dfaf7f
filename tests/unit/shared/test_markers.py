"""Tests are marked by the directory that says which infrastructure they touch (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TESTS, directory_marker


@pytest.mark.parametrize(
    ("relative", "marker"),
    [
        ("integration/storage/test_query_plans.py", "integration"),
        ("integration/test_multiworker_metrics.py", "integration"),
        ("e2e/test_alert_flow.py", "e2e"),
        ("unit/shared/test_durations.py", None),
        ("bench/run.py", None),
    ],
)
def test_directory_decides_the_marker(relative: str, marker: str | None) -> None:
    assert directory_marker(TESTS / relative) == marker


def test_paths_outside_tests_get_no_marker(tmp_path: Path) -> None:
    assert directory_marker(tmp_path / "integration" / "test_x.py") is None


def test_this_unit_test_is_not_marked_integration(request: pytest.FixtureRequest) -> None:
    assert request.node.get_closest_marker("integration") is None
    assert request.node.get_closest_marker("e2e") is None


def test_strict_markers_is_on(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.getoption("strict_markers") is True
