"""When an advocate and an integrator record the same fact, the timeline keeps it once.

Advocates record what happened at the fiscalía or the court; the integrator's feed may report
the same fact later (or earlier). The matching rule, the one place it is written down in code:

Two updates record **the same fact** when all of these hold:

* same ``case_id`` and same ``kind``;
* ``occurred_at`` on the same calendar date in the organisation's time zone (default
  America/Lima): people record the day, systems the minute;
* for ``hearing_scheduled``, the same ``scheduled_for`` to the minute; for the kinds below, the
  same value of the field that tells one such fact from another, when both updates carry it:
  ``stage_changed``/``case_reopened`` -> ``stage``, ``hearing_postponed`` -> ``new_date`` (to the
  minute), ``victim_notified`` -> ``about``, ``protective_measure_granted`` -> ``measure``,
  ``verdict_issued`` -> ``outcome``, ``reparation_ordered``/``reparation_paid`` -> ``amount``,
  ``elevation_decided`` -> ``outcome``, ``order_issued`` -> ``order``, ``trial_suspended`` -> ``reason``,
  ``appeal_filed`` -> ``against``.
  Hearing ids are not compared: each source names hearings its own way.

and one was recorded by a person and the other by a system. Each person-recorded entry is
confirmed at most once (by the first matching integrator update, in court order).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.legal.domain.timeline import Recorded
from services.legal.domain.updates import CourtUpdate

IDENTITY: dict[str, tuple[str, ...]] = {
    "stage_changed": ("stage",),
    "case_reopened": ("stage",),
    "hearing_scheduled": ("scheduled_for",),
    "hearing_postponed": ("new_date",),
    "victim_notified": ("about",),
    "protective_measure_granted": ("measure",),
    "verdict_issued": ("outcome",),
    "reparation_ordered": ("amount",),
    "reparation_paid": ("amount",),
    "elevation_decided": ("outcome",),
    "order_issued": ("order",),
    "trial_suspended": ("reason",),
    "appeal_filed": ("against",),
}
REQUIRED: dict[str, tuple[str, ...]] = {"hearing_scheduled": ("scheduled_for",)}


def _minute(value: Any) -> Any:
    return value.replace(second=0, microsecond=0) if isinstance(value, datetime) else value


def same_fact(a: CourtUpdate, b: CourtUpdate, tz: ZoneInfo) -> bool:
    if a.case_id != b.case_id or a.kind != b.kind:
        return False
    if a.occurred_at.astimezone(tz).date() != b.occurred_at.astimezone(tz).date():
        return False
    for name in IDENTITY.get(a.kind, ()):
        left, right = _minute(getattr(a, name, None)), _minute(getattr(b, name, None))
        if name in REQUIRED.get(a.kind, ()) or (left is not None and right is not None):
            if left != right:
                return False
    return True


def find_match(records: list[Recorded], new: Recorded, time_zone: str) -> Recorded | None:
    """The recorded entry ``new`` confirms (or duplicates) across provenances, or None."""
    tz = ZoneInfo(time_zone)
    if new.by_person:
        candidates = [r for r in records if not r.by_person]
    else:
        confirmed = {r.reconciles for r in records if r.reconciles is not None}
        candidates = [r for r in records if r.by_person and r.key not in confirmed]
    for rec in sorted(candidates, key=lambda r: r.order):
        if same_fact(rec.update, new.update, tz):
            return rec
    return None
