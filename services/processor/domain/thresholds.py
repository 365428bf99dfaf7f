"""One rule's knobs in the alert policy (severity, thresholds, lists) and the duration grammar they use.

Kept apart from ``policy.py`` so the rule registry (``rules.py``) can name its configuration type
while the policy loader reads the registry to know which rule ids exist.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.vocab import SEVERITIES, Severity

__all__ = ["SEVERITIES", "RuleConfig", "format_duration", "parse_duration"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: Any) -> timedelta:
    """``"90d"``, ``"2d"``, ``"4h"``, ``"30m"``, ``"3s"``, ``"500ms"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration like '2d', '4h' or '3s' is required")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("duration must not be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    raise ValueError("a duration like '2d', '4h' or '3s' is required")


def format_duration(value: timedelta) -> str:
    """Shortest exact spelling, for summaries (``2d``, ``36h``, ``3s``)."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class RuleConfig(BaseModel):
    """One rule's knobs. ``after`` is the time threshold, ``count`` the repetition threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    enabled: bool = True
    after: timedelta | None = None
    count: int | None = Field(default=None, ge=1)
    grace: timedelta = timedelta(0)
    # rule-specific lists (which service kinds count as psychosocial, the post-closure schedule...)
    service_kinds: tuple[str, ...] = ()
    spl_types: tuple[str, ...] = ()
    schedule_after_closure: tuple[timedelta, ...] = ()
    min_flag_severity: Severity = "low"
    description: str = ""

    @field_validator("after", "grace", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("schedule_after_closure", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        if v is None:
            return ()
        if not isinstance(v, list | tuple):
            raise ValueError("a list of durations is required")
        return tuple(parse_duration(x) for x in v)
