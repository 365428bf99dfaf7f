"""The sane range of every date that enters the legal service (REST bodies, queries, Kafka).

The limits are the project's (:mod:`shared.bounds`): no date before 1900-01-01, none more than
``MAX_YEARS_AHEAD`` (5) years from now, and every instant converted to UTC *inside* validation.
That order matters: ``9999-12-31T23:59:59-14:00`` overflows ``datetime`` when converted, and an
``OverflowError`` is not a validation error, so it used to escape as a 500 on REST and as a
retry-forever on the Kafka consumer. Now it is a ``date_out_of_range`` error naming the field.

``occurred_at`` is a bounded instant here; the service refuses one further in the future than
``CENTINELA_LEGAL_MAX_FUTURE_SKEW_SECONDS`` with its own reason ("occurred_at: in the future").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

from shared.bounds import MAX_YEARS_AHEAD, MIN_DATE, QueryDatetime, check_datetime

RANGE_TEXT = f"on or after {MIN_DATE.isoformat()} and at most {MAX_YEARS_AHEAD} years from now"


def _utc_millis(value: datetime) -> datetime:
    utc = check_datetime(value)
    # MongoDB keeps milliseconds in UTC: normalise now so a replayed timeline orders exactly as the live one.
    return utc.astimezone(UTC).replace(microsecond=utc.microsecond // 1000 * 1000)


# An aware instant in range, in UTC, to the millisecond (bodies and Kafka messages).
When = Annotated[AwareDatetime, AfterValidator(_utc_millis)]
# A query instant: a missing offset means UTC.
QueryInstant = QueryDatetime

__all__ = ["RANGE_TEXT", "QueryInstant", "When"]
