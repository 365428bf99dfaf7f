"""One grammar for every duration an operator writes in configuration (policy.yaml, deadlines.yaml, settings).

A duration is one or more ``<number><unit>`` parts: ``90d``, ``4h``, ``30min``, ``1y6mo``, ``1.5d``.
Units: ``ms``, ``s``, ``min``, ``h``, ``d``, ``w``, ``mo``, ``y``.

* A bare number is refused: ``90`` was 90 days in deadlines.yaml and 90 seconds in policy.yaml, so the
  unit is always written. ``m`` is refused too (it meant minutes in one file and months in the other).
* :func:`parse_duration` gives a fixed :class:`~datetime.timedelta`: ``mo`` = 30 days and ``y`` = 365
  days, the convention of Prometheus (``y`` = 365d) and of banking's 30/360 month. Good for alert
  thresholds ("no session for 30d") where a day more or less in a month does not matter.
* :func:`parse_calendar_duration` keeps months apart (:class:`CalendarDuration`), because statutory terms
  of the Código Procesal Penal count "meses" on the calendar: ``8mo`` from 31 January ends on the last
  day of September, not 240 days later.

Every error names where the value came from (``where``, e.g. ``"policy.yaml: rules.legal.no_activity.after"``)
and never echoes more than the offending value itself.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = [
    "UNITS",
    "CalendarDuration",
    "DurationError",
    "add_months",
    "format_duration",
    "parse_calendar_duration",
    "parse_duration",
]

# Fixed-size units in seconds. ``mo``/``y`` only when a timedelta is asked for (see module doc).
_SECONDS: dict[str, float] = {
    "ms": 0.001,
    "s": 1,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_MONTHS: dict[str, int] = {"mo": 1, "y": 12}
UNITS: tuple[str, ...] = ("ms", "s", "min", "h", "d", "w", "mo", "y")

# Longest unit names first so "min"/"mo"/"ms" win over "m"-prefixes.
_UNIT_RE = "ms|min|mo|s|h|d|w|y"
_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNIT_RE})")
_WHOLE = re.compile(rf"^\s*(?:\d+(?:\.\d+)?\s*(?:{_UNIT_RE})\s*)+$")
_HINT = "write a number and a unit (s, min, h, d, w, mo, y), e.g. '90d', '4h', '30min', '8mo' or '1y6mo'"


class DurationError(ValueError):
    """A configured duration cannot be read; the message names the file and key (``where``)."""

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(f"{where}: {problem}" if where else problem)


def _parts(value: object, where: str) -> list[tuple[float, str]]:
    if isinstance(value, bool):
        raise DurationError(where, f"{value!r} is not a duration; {_HINT}")
    if isinstance(value, int | float):
        raise DurationError(where, f"bare number {value!r} has no unit; {_HINT}")
    if not isinstance(value, str):
        raise DurationError(where, f"a duration must be text, not {type(value).__name__}; {_HINT}")
    text = value.strip()
    if not text:
        raise DurationError(where, f"empty duration; {_HINT}")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        raise DurationError(where, f"bare number {value!r} has no unit; {_HINT}")
    if re.fullmatch(r"\d+(?:\.\d+)?\s*m", text):
        raise DurationError(where, f"unit 'm' in {value!r} is ambiguous: use 'min' for minutes or 'mo' for months")
    if text.startswith("-"):
        raise DurationError(where, f"duration {value!r} cannot be negative")
    if not _WHOLE.match(text):
        raise DurationError(where, f"cannot read duration {value!r}; {_HINT}")
    return [(float(amount), unit) for amount, unit in _PART.findall(text)]


def parse_duration(value: object, *, where: str) -> timedelta:
    """``"90d"`` -> 90 days, ``"1y6mo"`` -> 545 days; a :class:`timedelta` passes through unchanged.

    ``mo`` is 30 days and ``y`` 365 days here; use :func:`parse_calendar_duration` for calendar months.
    """
    if isinstance(value, timedelta):
        if value < timedelta(0):
            raise DurationError(where, "duration cannot be negative")
        return value
    seconds = sum(amount * _SECONDS[unit] for amount, unit in _parts(value, where))
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError(where, f"duration {value!r} is too large") from None


def format_duration(value: timedelta) -> str:
    """Shortest exact spelling in this grammar (``2d``, ``36h``, ``30min``, ``1500ms``); reads back equal.

    Only ``w`` and smaller are used, so the result is exact under both parse functions.
    """
    ms = round(value.total_seconds() * 1000)
    if ms < 0:
        return "-" + format_duration(-value)
    if ms == 0:
        return "0s"
    for unit in ("w", "d", "h", "min", "s"):
        size = round(_SECONDS[unit] * 1000)
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


@dataclass(frozen=True, order=True)
class CalendarDuration:
    """Calendar months plus fixed seconds: what a statutory term ("8 meses", "60 días") really is."""

    months: int = 0
    seconds: int = 0

    def add_to(self, start: datetime) -> datetime:
        return add_months(start, self.months) + timedelta(seconds=self.seconds)

    def __add__(self, other: CalendarDuration) -> CalendarDuration:
        return CalendarDuration(self.months + other.months, self.seconds + other.seconds)

    def approximate(self) -> timedelta:
        """Fixed-size reading (``mo`` = 30 days), for sorting and display only, never for a deadline."""
        return timedelta(days=30 * self.months, seconds=self.seconds)

    def __str__(self) -> str:
        parts: list[str] = []
        if self.months:
            parts.append(f"{self.months}mo")
        if self.seconds or not parts:
            parts.append(format_duration(timedelta(seconds=self.seconds)))
        return "".join(parts)


def parse_calendar_duration(value: object, *, where: str) -> CalendarDuration:
    """``"8mo"`` -> 8 calendar months, ``"1y6mo"`` -> 18 months, ``"60d"`` -> 60 days of seconds.

    Months and years must be whole numbers here (half a calendar month has no meaning); seconds are
    rounded to whole seconds because statutory terms never need less.
    """
    if isinstance(value, CalendarDuration):
        return value
    months = 0
    seconds = 0.0
    for amount, unit in _parts(value, where):
        if unit in _MONTHS:
            if amount != int(amount):
                raise DurationError(where, f"months and years must be whole numbers in {value!r}")
            months += int(amount) * _MONTHS[unit]
        else:
            seconds += amount * _SECONDS[unit]
    return CalendarDuration(months=months, seconds=round(seconds))


def add_months(start: datetime, months: int) -> datetime:
    """Same day ``months`` later, clamped to the month's last day (31 Jan + 1mo = 28/29 Feb)."""
    if not months:
        return start
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
