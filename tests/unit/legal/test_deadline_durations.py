"""deadlines.yaml speaks the project's one duration grammar (shared.durations, issue 9 item 5).

The grammar itself is tested in tests/unit/shared/test_durations.py; here, that the legal file
uses it: calendar months for statutory terms, and the two old traps refused naming file and key
(a bare number was days here and seconds in policy.yaml; ``m`` was ambiguous).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.legal.domain.deadlines import DeadlineConfigError, load_policy
from tests.unit.legal.lima import eod

START = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)


def write(tmp_path, body: str):
    path = tmp_path / "deadlines.yaml"
    path.write_text(body)
    return path


@pytest.mark.parametrize(
    ("term", "expected"),
    # whole days and months end with the last Lima day; shorter terms are exact durations
    [
        ("60d", eod(datetime(2025, 4, 1, 12, 0, tzinfo=UTC))),
        ("8mo", eod(datetime(2025, 9, 30, 12, 0, tzinfo=UTC))),  # calendar months, clamped to the month's end
        ("1y6mo", eod(datetime(2026, 7, 31, 12, 0, tzinfo=UTC))),
        ("2h", datetime(2025, 1, 31, 14, 0, tzinfo=UTC)),
        ("30min", datetime(2025, 1, 31, 12, 30, tzinfo=UTC)),
        ("5s", datetime(2025, 1, 31, 12, 0, 5, tzinfo=UTC)),
    ],
)
def test_terms(tmp_path, term, expected):
    policy = load_policy(write(tmp_path, f"stages:\n  trial:\n    ordinary: {{term: {term}}}\n"))
    got = policy.deadline("trial", "ordinary", START)
    assert got is not None and got.deadline_at == expected


@pytest.mark.parametrize(
    ("term", "problem"), [("90", "bare number"), ("5m", "ambiguous"), ("sixty days", "cannot read")]
)
def test_old_traps_are_refused_naming_file_and_key(tmp_path, term, problem):
    with pytest.raises(DeadlineConfigError) as err:
        load_policy(write(tmp_path, f"stages:\n  trial:\n    ordinary: {{term: '{term}'}}\n"))
    message = str(err.value)
    assert message.startswith("deadlines.yaml: stages.trial.ordinary.term") and problem in message


def test_extension_key_is_named_too(tmp_path):
    with pytest.raises(DeadlineConfigError, match=r"stages\.trial\.ordinary\.extension: bare number"):
        load_policy(write(tmp_path, "stages:\n  trial:\n    ordinary: {term: 5d, extension: 60}\n"))
