from datetime import UTC, datetime

import pytest

from services.legal.domain.deadlines import DeadlineConfigError, DeadlinePolicy, load_policy
from services.legal.settings import DEFAULT_DEADLINES_FILE, LegalSettings
from tests.unit.legal.lima import eod

START = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)


def test_shipped_defaults_follow_design():
    policy = load_policy(DEFAULT_DEADLINES_FILE)
    prelim = policy.deadline("preliminary_investigation", "ordinary", START)
    assert prelim is not None and prelim.deadline_at == eod(datetime(2025, 3, 16, 9, 0, tzinfo=UTC))
    assert prelim.extended_deadline_at is None
    prep = policy.deadline("preparatory_investigation", "ordinary", START)
    assert prep is not None
    assert prep.deadline_at == eod(datetime(2025, 5, 15, 9, 0, tzinfo=UTC))  # 120 days
    assert prep.extended_deadline_at == eod(datetime(2025, 7, 14, 9, 0, tzinfo=UTC))  # + 60 days
    complex_ = policy.deadline("preparatory_investigation", "complex", START)
    assert complex_ is not None
    assert complex_.deadline_at == eod(datetime(2025, 9, 15, 9, 0, tzinfo=UTC))  # 8 months
    assert complex_.extended_deadline_at == eod(datetime(2026, 5, 15, 9, 0, tzinfo=UTC))  # + 8 months
    organised = policy.deadline("preparatory_investigation", "organised_crime", START)
    assert organised is not None
    assert organised.deadline_at == eod(datetime(2028, 1, 15, 9, 0, tzinfo=UTC))  # 36 months
    assert organised.extended_deadline_at == eod(datetime(2031, 1, 15, 9, 0, tzinfo=UTC))  # + 36 months


def test_complexity_without_entry_falls_back_to_ordinary():
    # (the shipped file now has complex terms for preliminary too, art. 334.2: issue 12)
    policy = DeadlinePolicy.from_mapping({"stages": {"preliminary_investigation": {"ordinary": {"term": "60d"}}}})
    assert policy.deadline("preliminary_investigation", "complex", START) == policy.deadline(
        "preliminary_investigation", "ordinary", START
    )


def test_stage_without_term_has_no_deadline():
    policy = load_policy(DEFAULT_DEADLINES_FILE)
    assert policy.deadline("trial", "ordinary", START) is None
    assert policy.deadline(None, "ordinary", START) is None


def test_settings_default_points_at_shipped_file(monkeypatch):
    monkeypatch.delenv("CENTINELA_LEGAL_DEADLINES_FILE", raising=False)
    assert LegalSettings().legal_deadlines_file == DEFAULT_DEADLINES_FILE
    monkeypatch.setenv("CENTINELA_LEGAL_DEADLINES_FILE", "/etc/centinela/deadlines.yaml")
    assert str(LegalSettings().legal_deadlines_file) == "/etc/centinela/deadlines.yaml"


def test_small_values_for_tests(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text("stages:\n  preliminary_investigation:\n    ordinary: 5s\n")
    policy = load_policy(path)
    got = policy.deadline("preliminary_investigation", "ordinary", START)
    assert got is not None and (got.deadline_at - START).total_seconds() == 5


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (None, "'stages'"),
        ({"stages": {"nonsense": {"ordinary": "5d"}}}, "unknown stage"),
        ({"stages": {"trial": {"weird": "5d"}}}, "unknown complexity"),
        ({"stages": {"trial": {"ordinary": {"term": "five days"}}}}, "stages.trial.ordinary"),
        ({"stages": {"trial": {"ordinary": {"extension": "5d"}}}}, "needs a 'term'"),
        ({"stages": {"trial": {"ordinary": {"term": "5d", "oops": 1}}}}, "unknown keys"),
        ({"stages": {"trial": "5d"}}, "must map complexity"),
    ],
)
def test_bad_config_is_refused_with_location(doc, fragment):
    with pytest.raises(DeadlineConfigError) as err:
        DeadlinePolicy.from_mapping(doc)
    assert fragment in str(err.value)


def test_unreadable_file(tmp_path):
    with pytest.raises(DeadlineConfigError):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [unclosed")
    with pytest.raises(DeadlineConfigError):
        load_policy(bad)
