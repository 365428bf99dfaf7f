"""The sane range of every date that enters the legal service (REST bodies, queries, Kafka).

No prosecution fact predates 1900 and none is scheduled more than a few years ahead. Checking
the range *before* converting to UTC matters: ``9999-12-31T23:59:59-14:00`` overflows
``datetime`` during the conversion, and an ``OverflowError`` is not a validation error, so it
used to escape as a 500 on REST and as a retry-forever on Kafka.

(Kept local to legal: ``shared/bounds.py`` did not exist when this was written; switch to it
once it does, keeping these limits.)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime
from pydantic_core import PydanticCustomError

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
MAX_YEARS_AHEAD = 5
_AHEAD = timedelta(days=366 * MAX_YEARS_AHEAD)
RANGE_TEXT = f"must be between 1900-01-01 and {MAX_YEARS_AHEAD} years from now"


def to_bounded_utc(value: datetime, now: datetime | None = None) -> datetime:
    """``value`` in UTC, or a validation error naming the rule (never the value)."""
    # Years far from the range are refused before any arithmetic, which could overflow.
    if value.year < EARLIEST.year - 1 or value.year > datetime.now(UTC).year + MAX_YEARS_AHEAD + 1:
        raise PydanticCustomError("date_out_of_range", RANGE_TEXT)
    utc = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if utc < EARLIEST or utc > (now or datetime.now(UTC)) + _AHEAD:
        raise PydanticCustomError("date_out_of_range", RANGE_TEXT)
    return utc


def _millis(value: datetime) -> datetime:
    # MongoDB keeps milliseconds in UTC: normalise now so a replayed timeline orders exactly as the live one.
    utc = to_bounded_utc(value)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


# An aware instant in range, in UTC, to the millisecond (bodies and Kafka messages).
When = Annotated[AwareDatetime, AfterValidator(_millis)]
# A query instant: a missing offset means UTC (the query string has no room for a body's strictness).
QueryInstant = Annotated[datetime, AfterValidator(to_bounded_utc)]
