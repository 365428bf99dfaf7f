"""Alert states and the changes a person may make — pure functions, no I/O.

States: ``open`` -> ``acknowledged`` | ``snoozed`` | ``resolved``; ``snoozed`` -> ``open`` (when
the snooze ends) | ``acknowledged`` | ``resolved``; ``acknowledged`` -> ``resolved``.
Only ``open`` alerts escalate: acknowledging stops escalation, a snooze pauses it.

Each ``*_change`` returns what the store writes in one conditional update: the fields to set and
the history entry. The free-text comment stays in the history (it may name the child) and never
travels in an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

STATUSES = ("open", "acknowledged", "snoozed", "resolved")
ACK_FROM = ("open", "snoozed")
SNOOZE_FROM = ("open", "snoozed")
RESOLVE_FROM = ("open", "acknowledged", "snoozed")

MAX_SNOOZE = timedelta(days=90)
MANUAL_RESOLUTION_REASON = "resolved by hand"


@dataclass(frozen=True)
class Change:
    """One transition: the states it is allowed from, the fields it sets, its history entry."""

    allowed_from: tuple[str, ...]
    set_fields: dict[str, Any]
    history: dict[str, Any]


def _history(action: str, by: str, now: datetime, comment: str | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": now, "action": action, "by": by, **extra}
    if comment:
        entry["comment"] = comment
    return entry


def acknowledge_change(by: str, now: datetime, comment: str | None) -> Change:
    return Change(
        ACK_FROM,
        {"status": "acknowledged", "acknowledged_at": now, "acknowledged_by": by, "updated_at": now},
        _history("acknowledged", by, now, comment),
    )


def resolve_change(by: str, now: datetime, comment: str | None) -> Change:
    return Change(
        RESOLVE_FROM,
        {
            "status": "resolved",
            "resolved_at": now,
            "resolved_by": by,
            "resolved_auto": False,
            "resolution_reason": MANUAL_RESOLUTION_REASON,
            "updated_at": now,
        },
        _history("resolved", by, now, comment, auto=False),
    )


def snooze_change(by: str, now: datetime, until: datetime, comment: str | None) -> Change:
    return Change(
        SNOOZE_FROM,
        {"status": "snoozed", "snoozed_until": until, "snoozed_by": by, "updated_at": now},
        _history("snoozed", by, now, comment, until=until),
    )


def snooze_problem(until: datetime, now: datetime) -> str | None:
    """Why ``until`` is not an acceptable end of a snooze (None: it is)."""
    until = until.astimezone(UTC)
    if until <= now or until - now > MAX_SNOOZE:
        return "must be in the future and at most 90 days ahead"
    return None


def aware(value: datetime) -> datetime:
    """Datetimes read back from the database may be naive UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
