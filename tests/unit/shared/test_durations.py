from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.durations import (
    CalendarDuration,
    DurationError,
    add_months,
    format_duration,
    parse_calendar_duration,
    parse_duration,
)

WHERE = "policy.yaml: rules.legal.no_activity.after"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3s", timedelta(seconds=3)),
        ("500ms", timedelta(milliseconds=500)),
        ("30min", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("90d", timedelta(days=90)),
        ("1.5d", timedelta(hours=36)),
        ("1w", timedelta(weeks=1)),
        ("1mo", timedelta(days=30)),
        ("1y", timedelta(days=365)),
        ("1y6mo", timedelta(days=365 + 180)),
        ("1d 12h", timedelta(hours=36)),
        ("  2d ", timedelta(days=2)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text, where=WHERE) == expected


def test_timedelta_passes_through() -> None:
    assert parse_duration(timedelta(hours=2), where=WHERE) == timedelta(hours=2)


@pytest.mark.parametrize("bare", [90, 90.0, "90", " 2.5 "])
def test_bare_number_refused_naming_file_and_key(bare: object) -> None:
    with pytest.raises(DurationError) as err:
        parse_duration(bare, where=WHERE)
    assert str(err.value).startswith(WHERE + ": ")
    assert "no unit" in str(err.value)
    assert err.value.where == WHERE


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("30m", "ambiguous"),
        ("", "empty"),
        ("-3d", "negative"),
        ("3 days", "cannot read"),
        ("d3", "cannot read"),
        (True, "not a duration"),
        (None, "must be text"),
        (["1d"], "must be text"),
        ("1e999999d", "cannot read"),
    ],
)
def test_bad_values_refused(value: object, fragment: str) -> None:
    with pytest.raises(DurationError, match=fragment):
        parse_duration(value, where=WHERE)


def test_duration_error_is_value_error_for_pydantic_validators() -> None:
    assert issubclass(DurationError, ValueError)


def test_too_large_is_a_duration_error_not_overflow() -> None:
    with pytest.raises(DurationError, match="too large"):
        parse_duration("99999999999y", where=WHERE)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=14), "2w"),
        (timedelta(days=2), "2d"),
        (timedelta(hours=36), "36h"),
        (timedelta(minutes=30), "30min"),
        (timedelta(seconds=3), "3s"),
        (timedelta(milliseconds=1500), "1500ms"),
        (timedelta(0), "0s"),
    ],
)
def test_format_duration_round_trips(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    assert parse_duration(text, where=WHERE) == value


def test_calendar_months_stay_months() -> None:
    d = parse_calendar_duration("8mo", where="deadlines.yaml: stages.preparatory_investigation.complex.term")
    assert d == CalendarDuration(months=8)
    assert d.add_to(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 9, 30, tzinfo=UTC)
    assert parse_calendar_duration("1y6mo", where=WHERE) == CalendarDuration(months=18)
    assert parse_calendar_duration("60d", where=WHERE) == CalendarDuration(seconds=60 * 86400)
    assert str(parse_calendar_duration("1y6mo2d", where=WHERE)) == "18mo2d"
    assert str(CalendarDuration()) == "0s"


def test_calendar_duration_refuses_bare_numbers_and_half_months() -> None:
    with pytest.raises(DurationError, match="deadlines.yaml: x: bare number"):
        parse_calendar_duration(60, where="deadlines.yaml: x")
    with pytest.raises(DurationError, match="whole numbers"):
        parse_calendar_duration("1.5mo", where=WHERE)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(datetime(2024, 1, 31), 1) == datetime(2024, 2, 29)
    assert add_months(datetime(2025, 11, 15), 3) == datetime(2026, 2, 15)
    assert add_months(datetime(2025, 11, 15), 0) == datetime(2025, 11, 15)
