"""shared.bounds: the documented date range, checked with a fixed clock (intake owns its first users)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import BaseModel, ValidationError

from shared import bounds
from shared.bounds import CLOCK_SKEW, MIN_DATE, MIN_DATETIME, check_date, check_datetime, years_after

NOW = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)


def out_of_range(call: object) -> bool:
    try:
        call()  # type: ignore[operator]
    except Exception as exc:  # the pydantic custom error is what validation turns into a 422
        return type(exc).__name__ == "PydanticCustomError" and "date_out_of_range" in repr(exc.type)  # type: ignore[attr-defined]
    return False


def test_limits_are_the_documented_ones() -> None:
    assert MIN_DATE == date(1900, 1, 1) and MIN_DATETIME == datetime(1900, 1, 1, tzinfo=UTC)
    assert bounds.MAX_YEARS_AHEAD == 5 and CLOCK_SKEW == timedelta(minutes=5)
    for name in ("MIN_DATE", "MAX_YEARS_AHEAD", "CLOCK_SKEW", "PastDatetime", "FutureDate", "BoundedDatetime"):
        assert name in (bounds.__doc__ or "")


@pytest.mark.parametrize("raw", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
def test_offsets_that_overflow_are_a_validation_error(raw: str) -> None:
    value = datetime.fromisoformat(raw)
    with pytest.raises(OverflowError):
        value.astimezone(UTC)  # what used to escape as a 500
    assert out_of_range(lambda: check_datetime(value, now=NOW))


def test_instant_edges() -> None:
    assert check_datetime(MIN_DATETIME, now=NOW) == MIN_DATETIME
    assert out_of_range(lambda: check_datetime(MIN_DATETIME - timedelta(microseconds=1), now=NOW))
    last = datetime(2031, 2, 28, 12, 0, tzinfo=UTC)
    assert check_datetime(last, now=NOW) == last
    assert out_of_range(lambda: check_datetime(last + timedelta(seconds=1), now=NOW))
    assert check_datetime(NOW + CLOCK_SKEW, ahead=CLOCK_SKEW, now=NOW) == NOW + CLOCK_SKEW
    assert out_of_range(lambda: check_datetime(NOW + CLOCK_SKEW + timedelta(seconds=1), ahead=CLOCK_SKEW, now=NOW))


def test_converted_to_utc_inside_validation() -> None:
    lima = datetime(2025, 5, 15, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    out = check_datetime(lima, now=NOW)
    assert out.tzinfo is UTC and out == datetime(2025, 5, 16, 4, 30, tzinfo=UTC)


def test_naive_instants() -> None:
    naive = datetime(2025, 1, 1)
    assert "time zone" in repr(pytest.raises(Exception, check_datetime, naive, now=NOW).value)
    assert check_datetime(naive, naive_is_utc=True, now=NOW) == naive.replace(tzinfo=UTC)


def test_date_edges() -> None:
    today = NOW.date()
    assert check_date(MIN_DATE, today=today) == MIN_DATE
    assert out_of_range(lambda: check_date(date(1899, 12, 31), today=today))
    assert out_of_range(lambda: check_date(date(1, 1, 1), today=today))
    assert out_of_range(lambda: check_date(date(9999, 12, 31), today=today))
    assert check_date(date(2031, 2, 28), today=today) == date(2031, 2, 28)
    assert out_of_range(lambda: check_date(date(2031, 3, 1), today=today))


def test_calendar_years_from_29_february() -> None:
    assert years_after(datetime(2028, 2, 29, tzinfo=UTC), 5) == datetime(2033, 2, 28, tzinfo=UTC)


class Body(BaseModel):
    happened: bounds.PastDatetime
    due: bounds.FutureDate
    day: bounds.PastDate | None = None


def test_types_give_a_validation_error_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        Body.model_validate({"happened": "9999-12-31T23:59:59-14:00", "due": "9999-12-31", "day": "0001-01-01"})
    errors = {e["loc"][0]: e["type"] for e in err.value.errors()}
    assert errors == {"happened": "date_out_of_range", "due": "date_out_of_range", "day": "date_out_of_range"}
    assert all("9999" not in e["msg"] for e in err.value.errors())


def test_past_date_allows_today_anywhere_on_earth() -> None:
    tomorrow_in_kiribati = (datetime.now(UTC) + timedelta(hours=14)).date()
    assert Body.model_validate({"happened": "2024-01-01T00:00:00Z", "due": "2025-01-01", "day": tomorrow_in_kiribati})
    with pytest.raises(ValidationError):
        Body.model_validate(
            {"happened": "2024-01-01T00:00:00Z", "due": "2025-01-01", "day": tomorrow_in_kiribati + timedelta(days=1)}
        )
