"""Statutory durations written the way lawyers and operators write them: ``60d``, ``8mo``, ``5s``.

Months are calendar months (``8mo`` from 31 January ends on 30 September's last valid day), not
30-day blocks: the Código Procesal Penal counts "meses" on the calendar.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_UNITS_SECONDS = {"s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UNITS_MONTHS = {"mo": 1, "y": 12}
_PART = re.compile(r"(\d+)\s*(mo|min|y|w|d|h|s)")
_WHOLE = re.compile(r"^\s*(?:\d+\s*(?:mo|min|y|w|d|h|s)\s*)+$")


class DurationError(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Duration:
    months: int = 0
    seconds: int = 0

    def add_to(self, start: datetime) -> datetime:
        return add_months(start, self.months) + timedelta(seconds=self.seconds)

    def __add__(self, other: Duration) -> Duration:
        return Duration(self.months + other.months, self.seconds + other.seconds)

    def __str__(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months}mo")
        if self.seconds or not parts:
            parts.append(f"{self.seconds}s")
        return "".join(parts)


def parse_duration(text: str | int) -> Duration:
    """``"60d"``, ``"8mo"``, ``"36mo"``, ``"2h"``, ``"30min"``, ``"5s"``, ``"1y6mo"``; a bare int is days."""
    if isinstance(text, bool):
        raise DurationError("a duration must be text like '60d' or '8mo'")
    if isinstance(text, int):
        if text < 0:
            raise DurationError("a duration cannot be negative")
        return Duration(seconds=text * 86400)
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise DurationError(
            f"cannot read duration {text!r}: use a number and a unit (s, min, h, d, w, mo, y), e.g. '60d' or '8mo'"
        )
    months = seconds = 0
    for amount, unit in _PART.findall(text):
        if unit in _UNITS_MONTHS:
            months += int(amount) * _UNITS_MONTHS[unit]
        else:
            seconds += int(amount) * _UNITS_SECONDS[unit]
    return Duration(months=months, seconds=seconds)


def add_months(start: datetime, months: int) -> datetime:
    if not months:
        return start
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)
