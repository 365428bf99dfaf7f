"""Expected deadlines as the legal service counts them: the end of a local day in Lima (UTC-5, no DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LIMA = ZoneInfo("America/Lima")


def eod(instant: datetime | date) -> datetime:
    """The instant the Lima day of ``instant`` ends (00:00 of the next Lima day), in UTC."""
    day = instant.astimezone(LIMA).date() if isinstance(instant, datetime) else instant
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LIMA).astimezone(UTC)
