from datetime import UTC, datetime

import pytest

from services.legal.domain.durations import Duration, DurationError, add_months, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60d", Duration(seconds=60 * 86400)),
        ("120d", Duration(seconds=120 * 86400)),
        ("8mo", Duration(months=8)),
        ("36mo", Duration(months=36)),
        ("5s", Duration(seconds=5)),
        ("2h", Duration(seconds=7200)),
        ("30min", Duration(seconds=1800)),
        ("1w", Duration(seconds=7 * 86400)),
        ("1y6mo", Duration(months=18)),
        ("1d 2h", Duration(seconds=86400 + 7200)),
        (90, Duration(seconds=90 * 86400)),
    ],
)
def test_parses(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "60", "d", "5 seconds", "-5s", "5m", "1.5d", "abc", None, True, -3])
def test_refuses_unreadable(text):
    with pytest.raises(DurationError):
        parse_duration(text)


def test_months_are_calendar_months_clamped_to_month_end():
    start = datetime(2025, 1, 31, 12, 0, tzinfo=UTC)
    assert parse_duration("1mo").add_to(start) == datetime(2025, 2, 28, 12, 0, tzinfo=UTC)
    assert add_months(start, 13) == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert add_months(datetime(2024, 1, 31, tzinfo=UTC), 1) == datetime(2024, 2, 29, tzinfo=UTC)
    assert add_months(datetime(2025, 11, 15, tzinfo=UTC), 2) == datetime(2026, 1, 15, tzinfo=UTC)


def test_days_and_seconds_add_exactly():
    start = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert parse_duration("60d").add_to(start) == datetime(2025, 4, 30, 10, 0, tzinfo=UTC)
    assert parse_duration("5s").add_to(start) == datetime(2025, 3, 1, 10, 0, 5, tzinfo=UTC)


def test_sum_and_text():
    assert parse_duration("8mo") + parse_duration("8mo") == Duration(months=16)
    assert str(parse_duration("1y2d")) == "12mo172800s"
