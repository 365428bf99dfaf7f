"""Counting the days of a legal term: calendar or working days, Peru's judicial holidays, Lima's clock.

Why not ``N × 24 h`` in UTC: a term of the Código Procesal Penal counts *days*, and a day is a date
in the place the case is handled. A disposition notified at 21:00 on 3 March in Lima is 02:00 on
4 March in UTC; counted in UTC its five days would end a day late. So every date here is the
organisation's local date (``CENTINELA_LEGAL_TIME_ZONE``, default America/Lima), and a term ends
at the **end of its last day** (the instant the next local day begins), which is what ``due_at``
and ``deadline_at`` carry.

Rules (to be confirmed with Peruvian counsel, like the terms themselves):

* the day of the act does not count: a term of N days starts the next day (CPP art. 143 and the
  usual rule of procedure);
* ``calendar`` (días naturales): the last day is the start date + N days; a term in months ends
  on the same day number N months later (clamped to the month's last day);
* ``working`` (días hábiles): N days that are not a weekend day, a holiday of the year's holiday
  file, or (when the deadlines file says so) a day of the judicial vacation;
* a term with a part smaller than a day (``48h``, ``5s`` in tests) is an exact duration, not a
  count of days.

Holidays come from one YAML file per year (``services/legal/holidays/<year>.yaml``). A working
day count that runs into a year without a file counts weekends only and says so in the log,
once per year, so an operator knows to add the file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from shared.config import load_yaml_mapping
from shared.durations import CalendarDuration, add_months
from shared.errors import ConfigError

log = logging.getLogger(__name__)

Counting = Literal["calendar", "working"]
COUNTINGS: tuple[Counting, ...] = ("calendar", "working")
DAY = 86400
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class CalendarConfigError(ConfigError):
    pass


@dataclass(frozen=True)
class Holiday:
    day: date
    name: str
    kind: str = "national"  # national | judicial | non_working (a day declared non-working for the public sector)


@dataclass
class LegalCalendar:
    """The organisation's time zone and its non-working days."""

    time_zone: str = "America/Lima"
    holidays: dict[date, Holiday] = field(default_factory=dict)
    vacations: list[tuple[date, date]] = field(default_factory=list)  # judicial vacation ranges, inclusive
    vacation_is_non_working: bool = False
    weekend: frozenset[int] = frozenset({5, 6})
    years: frozenset[int] = frozenset()  # years with a holiday file
    _warned: set[int] = field(default_factory=set, repr=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    # -- days
    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()

    def end_of(self, day: date) -> datetime:
        """The instant ``day`` ends in the organisation's zone (the next local midnight), in UTC."""
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)

    def is_working_day(self, day: date) -> bool:
        if day.weekday() in self.weekend or day in self.holidays:
            return False
        if self.vacation_is_non_working and any(a <= day <= b for a, b in self.vacations):
            return False
        if day.year not in self.years and day.year not in self._warned:
            self._warned.add(day.year)
            log.warning("no holiday file for this year: working days count weekends only", extra={"year": day.year})
        return True

    def add_days(self, start: date, days: int, counting: Counting) -> date:
        """The last day of a term of ``days`` days starting the day after ``start``."""
        if counting == "calendar":
            return start + timedelta(days=days)
        day, left = start, days
        while left > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    # -- terms
    def due(self, started_at: datetime, term: CalendarDuration, counting: Counting = "calendar") -> datetime:
        """When a term begun at ``started_at`` runs out (see the module doc for the rules)."""
        if term.seconds % DAY:
            # hours, minutes or seconds: an exact duration (months, if any, still on the calendar)
            return add_months(started_at, term.months) + timedelta(seconds=term.seconds)
        start = self.local_date(started_at)
        if term.months:
            start = add_months(datetime.combine(start, time(0)), term.months).date()
        return self.end_of(self.add_days(start, term.seconds // DAY, counting))

    def extend(self, deadline_at: datetime, days: int, counting: Counting = "calendar") -> datetime:
        """A deadline moved ``days`` days on (an extension granted in days)."""
        last_day = self.local_date(deadline_at - timedelta(microseconds=1))
        if deadline_at != self.end_of(last_day):
            return deadline_at + timedelta(days=days)  # an exact-duration deadline stays exact
        return self.end_of(self.add_days(last_day, days, counting))

    # -- loading
    @classmethod
    def load(
        cls,
        directory: Path | None,
        *,
        time_zone: str = "America/Lima",
        vacation_is_non_working: bool = False,
        weekend: Iterable[str] = ("saturday", "sunday"),
    ) -> LegalCalendar:
        """Every ``<year>.yaml`` of ``directory`` (a missing directory: weekends only)."""
        days: set[int] = set()
        for name in weekend:
            if name not in WEEKDAYS:
                raise CalendarConfigError(f"calendar.weekend: {name!r} is not a weekday name ({', '.join(WEEKDAYS)})")
            days.add(WEEKDAYS.index(name))
        calendar = cls(time_zone=time_zone, vacation_is_non_working=vacation_is_non_working, weekend=frozenset(days))
        if directory is None or not directory.is_dir():
            if directory is not None:
                log.warning("holiday directory not found: working days count weekends only")
            return calendar
        years: set[int] = set()
        for path in sorted(directory.glob("*.yaml")):
            year = _year_of(path)
            doc = load_yaml_mapping(path)
            calendar._read_year(path.name, year, doc)
            years.add(year)
        calendar.years = frozenset(years)
        return calendar

    def _read_year(self, name: str, year: int, doc: dict[str, Any]) -> None:
        if doc.get("year") != year:
            raise CalendarConfigError(f"{name}: 'year' must be {year} (the file name's year)")
        for index, item in enumerate(doc.get("holidays") or []):
            where = f"{name}: holidays.{index}"
            if not isinstance(item, dict) or not isinstance(item.get("date"), date):
                raise CalendarConfigError(f"{where}: needs a 'date' (YYYY-MM-DD) and a 'name'")
            day: date = item["date"]
            if day.year != year:
                raise CalendarConfigError(f"{where}.date: not in {year}")
            kind = item.get("kind", "national")
            if kind not in ("national", "judicial", "non_working"):
                raise CalendarConfigError(f"{where}.kind: one of national, judicial, non_working")
            self.holidays[day] = Holiday(day=day, name=str(item.get("name") or ""), kind=kind)
        vacation = doc.get("judicial_vacation")
        if vacation is not None:
            if not isinstance(vacation, dict) or not all(isinstance(vacation.get(k), date) for k in ("from", "to")):
                raise CalendarConfigError(f"{name}: judicial_vacation needs 'from' and 'to' dates")
            if vacation["to"] < vacation["from"]:
                raise CalendarConfigError(f"{name}: judicial_vacation.to is before judicial_vacation.from")
            self.vacations.append((vacation["from"], vacation["to"]))


def _year_of(path: Path) -> int:
    try:
        year = int(path.stem)
    except ValueError:
        raise CalendarConfigError(f"{path.name}: holiday files are named <year>.yaml (e.g. 2026.yaml)") from None
    if not 1900 <= year <= 2200:
        raise CalendarConfigError(f"{path.name}: not a plausible year")
    return year
