"""The topic catalogue: the four case topics, a DLQ for each, keyed by case_id."""

from __future__ import annotations

import pytest

from shared.settings import CommonSettings
from shared.topics import ALERTS, CASE_EVENTS, CATALOGUE, COURT_UPDATES, LEGAL_EVENTS, dlq, main


def test_catalogue_names() -> None:
    names = [s.name for s in CATALOGUE]
    assert len(names) == len(set(names))
    for topic in (CASE_EVENTS, COURT_UPDATES, LEGAL_EVENTS, ALERTS):
        assert topic in names
        assert dlq(topic) in names
    assert dlq("court-updates") == "court-updates.dlq"


def test_every_topic_keyed_by_case_id_with_a_retention() -> None:
    for spec in CATALOGUE:
        assert spec.key == "case_id"
        assert spec.retention_ms == -1 or spec.retention_ms > 0
        assert spec.cleanup_policy in ("delete", "compact")
        assert spec.description


def test_list_prints_prefixed_names(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CENTINELA_TOPIC_PREFIX", "zz.")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert all(CommonSettings(topic_prefix="zz.").topic(s.name) in out for s in CATALOGUE)
