"""One rule's knobs in the alert policy (severity, thresholds, lists), read with the one duration grammar.

Kept apart from ``policy.py`` so the rule registry (``rules.py``) can name its configuration type
while the policy loader reads the registry to know which rule ids exist.

Durations follow ``shared.durations`` (units ``s, min, h, d, w, mo, y``; a bare number or ``m`` is
refused), the same grammar as the legal service's ``deadlines.yaml``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from shared.durations import DurationError, format_duration, parse_duration
from shared.vocab import SEVERITIES, Severity

__all__ = [
    "SEVERITIES",
    "Duration",
    "DurationError",
    "RuleConfig",
    "format_duration",
    "parse_duration",
    "to_duration",
]


_HINT = "write a number and a unit (s, min, h, d, w, mo, y), e.g. '90d', '4h' or '30min'"


def to_duration(value: Any) -> timedelta:
    """A policy duration; the pydantic error around it carries the key path, the loader the file.

    The message says what is wrong without repeating the value: a mistyped policy line may hold
    anything, and policy errors go to logs.
    """
    try:
        return parse_duration(value, where="")
    except DurationError:
        pass
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"a bare number has no unit; {_HINT}")
    text = value.strip() if isinstance(value, str) else ""
    if re.fullmatch(r"\d+(?:\.\d+)?\s*m", text):
        raise ValueError("unit 'm' is ambiguous: use 'min' for minutes or 'mo' for months")
    if text.startswith("-"):
        raise ValueError("a duration cannot be negative")
    raise ValueError(f"not a duration; {_HINT}")


# a duration field or item: pydantic's error location then names the key (escalation.high, ...1)
Duration = Annotated[timedelta, BeforeValidator(to_duration)]


class RuleConfig(BaseModel):
    """One rule's knobs. ``after`` is the time threshold, ``count`` the repetition threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    enabled: bool = True
    after: timedelta | None = None
    count: int | None = Field(default=None, ge=1)
    grace: timedelta = timedelta(0)
    # after a person resolves this rule's alert by hand while its condition goes on, wait this long
    # before opening a new episode (the person said "handled"; the system says so again if it is not)
    quiet_after_manual_resolve: timedelta = timedelta(days=7)
    # rule-specific lists (which service kinds count as psychosocial, the post-closure schedule...)
    service_kinds: tuple[str, ...] = ()
    spl_types: tuple[str, ...] = ()
    schedule_after_closure: tuple[Duration, ...] = ()
    min_flag_severity: Severity = "low"
    # false: an unacknowledged alert of this rule is never escalated (a reminder is not an emergency)
    escalate: bool = True
    # reminders (legal.deadline_approaching, legal.hearing_upcoming): how long before the date
    lead_times: tuple[Duration, ...] = ()
    # legal.no_representation: the organisation's own advocate assigned to the case represents the child
    own_advocate_counts: bool = True
    # legal.victim_not_notified: which notifications (their ``about`` code) tell the child of a decision
    notification_about: tuple[str, ...] = ()
    # reintegration rules: the statuses that raise it (education: dropped_out)
    statuses: tuple[str, ...] = ()
    # the organisation's time zone (IANA name): date-only deadlines end at midnight there. Set from the
    # policy's top-level ``timezone`` unless the rule names its own.
    timezone: str | None = None
    # the article or standard the rule rests on, and what it means for an advocate (es first, en second)
    basis: str = ""
    description: dict[str, str] = Field(default_factory=dict)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, v: Any) -> Any:
        if v is None:
            return {}
        if isinstance(v, str):
            return {"en": v}
        return v

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; write an IANA name such as 'America/Lima'") from None
        return v

    @field_validator("after", "grace", "quiet_after_manual_resolve", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else to_duration(v)

    @field_validator("schedule_after_closure", "lead_times", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        if v is None:
            return ()
        if not isinstance(v, list | tuple):
            raise ValueError("a list of durations is required")
        return v

    def describe(self) -> dict[str, Any]:
        """The knobs in force as the policy file would spell them (for logs and the admin API)."""
        out: dict[str, Any] = {"severity": self.severity, "enabled": self.enabled}
        if self.after is not None:
            out["after"] = format_duration(self.after)
        if self.count is not None:
            out["count"] = self.count
        if self.grace:
            out["grace"] = format_duration(self.grace)
        if self.quiet_after_manual_resolve != timedelta(days=7):
            out["quiet_after_manual_resolve"] = format_duration(self.quiet_after_manual_resolve)
        if self.service_kinds:
            out["service_kinds"] = list(self.service_kinds)
        if self.spl_types:
            out["spl_types"] = list(self.spl_types)
        if self.schedule_after_closure:
            out["schedule_after_closure"] = [format_duration(d) for d in self.schedule_after_closure]
        if self.min_flag_severity != "low":
            out["min_flag_severity"] = self.min_flag_severity
        if not self.escalate:
            out["escalate"] = False
        if self.lead_times:
            out["lead_times"] = [format_duration(d) for d in self.lead_times]
        if self.notification_about:
            out["notification_about"] = list(self.notification_about)
        if self.statuses:
            out["statuses"] = list(self.statuses)
        return out
