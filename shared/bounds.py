"""The sane range of every date and instant that enters centinela (API bodies, queries, decoders).

Limits (module constants; change them here, and every entrance follows):

* ``MIN_DATE`` = 1900-01-01 (``MIN_DATETIME`` = 1900-01-01T00:00:00Z): nothing centinela records
  (a birth, a rescue, a hearing, a session) happened before it;
* ``MAX_YEARS_AHEAD`` = 5: a due, planned or scheduled date lies at most 5 calendar years after now;
* ``CLOCK_SKEW`` = 5 minutes: something that *happened* (occurred, observed, done) is not in the
  future, except for this allowance for the clocks of the caller and the server disagreeing;
* ``LATEST_ZONE`` = UTC+14: a calendar date carries no zone, so "today" for a past *date* is today
  in the time zone that is furthest ahead (a user's local today is never refused).

Every instant is converted to UTC *inside* validation. That order matters: an offset can push a
value out of what ``datetime`` can hold (``9999-12-31T23:59:59-14:00``, ``0001-01-01T00:00:00+14:00``),
and the ``OverflowError`` that conversion raises is not a validation error, so it used to escape as
a 500 (REST) or a retry-forever (Kafka). Here it becomes a ``date_out_of_range`` validation error
(422 naming the field) whose message states the rule, never the value.

Types (pydantic ``Annotated``; use them as field or query parameter types):

==================  ============================================  =====================================
type                range                                         for
==================  ============================================  =====================================
``BoundedDatetime``  MIN_DATETIME .. now + MAX_YEARS_AHEAD         any aware instant (offset required)
``PastDatetime``     MIN_DATETIME .. now + CLOCK_SKEW              occurred_at, observed_at, ...
``FutureDatetime``   MIN_DATETIME .. now + MAX_YEARS_AHEAD         due / scheduled instants (a plan
                                                                   recorded late may lie in the past)
``QueryDatetime``    as BoundedDatetime; no offset means UTC       ``since`` / ``until`` query parameters
``BoundedDate``      MIN_DATE .. today + MAX_YEARS_AHEAD           any calendar date
``PastDate``         MIN_DATE .. today at UTC+14                   rescue, birth, done dates
``FutureDate``       MIN_DATE .. today + MAX_YEARS_AHEAD           due / planned dates
==================  ============================================  =====================================

``bounded_datetime(...)`` and ``bounded_date(...)`` build a type with other limits.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

__all__ = [
    "CLOCK_SKEW",
    "LATEST_ZONE",
    "MAX_YEARS_AHEAD",
    "MIN_DATE",
    "MIN_DATETIME",
    "BoundedDate",
    "BoundedDatetime",
    "FutureDate",
    "FutureDatetime",
    "PastDate",
    "PastDatetime",
    "QueryDatetime",
    "bounded_date",
    "bounded_datetime",
    "check_date",
    "check_datetime",
    "years_after",
]

MIN_DATE = date(1900, 1, 1)
MIN_DATETIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_YEARS_AHEAD = 5
CLOCK_SKEW = timedelta(minutes=5)
LATEST_ZONE = timedelta(hours=14)

ERROR_TYPE = "date_out_of_range"


def years_after(value: datetime, years: int) -> datetime:
    """``value`` moved by whole calendar years (29 February becomes 28 February)."""
    try:
        return value.replace(year=value.year + years)
    except ValueError:
        return value.replace(year=value.year + years, day=28)


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(ERROR_TYPE, message)


def _latest_text(ahead: timedelta | int) -> str:
    if isinstance(ahead, int):
        return f"at most {ahead} years from now"
    return "not in the future"


def check_datetime(
    value: datetime,
    *,
    ahead: timedelta | int = MAX_YEARS_AHEAD,
    earliest: datetime = MIN_DATETIME,
    naive_is_utc: bool = False,
    now: datetime | None = None,
) -> datetime:
    """``value`` in UTC if it lies in ``earliest .. now + ahead``; ``ahead`` is whole calendar years
    (int) or a short allowance (timedelta, e.g. ``CLOCK_SKEW``). Raises a validation error otherwise."""
    rule = f"must be on or after {earliest.date().isoformat()} and {_latest_text(ahead)}"
    if value.tzinfo is None or value.utcoffset() is None:
        if not naive_is_utc:
            raise _refuse("must carry a time zone offset")
        value = value.replace(tzinfo=UTC)
    try:
        utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise _refuse(rule) from None
    current = now or datetime.now(UTC)
    latest = years_after(current, ahead) if isinstance(ahead, int) else current + ahead
    if utc < earliest or utc > latest:
        raise _refuse(rule)
    return utc


def check_date(
    value: date,
    *,
    ahead: timedelta | int = MAX_YEARS_AHEAD,
    earliest: date = MIN_DATE,
    today: date | None = None,
) -> date:
    """``value`` if it lies in ``earliest .. today + ahead`` (today in UTC, plus a skew allowance)."""
    rule = f"must be on or after {earliest.isoformat()} and {_latest_text(ahead)}"
    now = datetime.combine(today, datetime.min.time(), UTC) if today is not None else datetime.now(UTC)
    latest = years_after(now, ahead).date() if isinstance(ahead, int) else (now + ahead).date()
    if value < earliest or value > latest:
        raise _refuse(rule)
    return value


def bounded_datetime(
    *, ahead: timedelta | int = MAX_YEARS_AHEAD, earliest: datetime = MIN_DATETIME, naive_is_utc: bool = False
) -> Any:
    """A pydantic type: an instant in ``earliest .. now + ahead``, converted to UTC."""

    def validate(value: datetime) -> datetime:
        return check_datetime(value, ahead=ahead, earliest=earliest, naive_is_utc=naive_is_utc)

    base: Any = datetime if naive_is_utc else AwareDatetime
    return Annotated[base, AfterValidator(validate)]


def bounded_date(*, ahead: timedelta | int = MAX_YEARS_AHEAD, earliest: date = MIN_DATE) -> Any:
    """A pydantic type: a calendar date in ``earliest .. today + ahead``."""

    def validate(value: date) -> date:
        return check_date(value, ahead=ahead, earliest=earliest)

    return Annotated[date, AfterValidator(validate)]


BoundedDatetime = Annotated[AwareDatetime, AfterValidator(lambda v: check_datetime(v))]
FutureDatetime = BoundedDatetime
PastDatetime = Annotated[AwareDatetime, AfterValidator(lambda v: check_datetime(v, ahead=CLOCK_SKEW))]
QueryDatetime = Annotated[datetime, AfterValidator(lambda v: check_datetime(v, naive_is_utc=True))]
BoundedDate = Annotated[date, AfterValidator(lambda v: check_date(v))]
FutureDate = BoundedDate
PastDate = Annotated[date, AfterValidator(lambda v: check_date(v, ahead=LATEST_ZONE + CLOCK_SKEW))]
