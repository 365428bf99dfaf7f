"""Justice-access figures: one case's contribution, cells that add contributions, and the figures.

A *contribution* is what one case adds to its cell: counters and day-resolution histograms
(``{"12": 3}`` = three cases took 12 days). Cells are sums of contributions, so a request merges a
bounded number of cells (organisation x region x exploitation x month) and never reads a case;
medians and p90 come out exact to the day.

Small cells are suppressed: any count, share or statistic resting on fewer than ``k`` cases is
``null`` and named in ``suppressed``, so a figure never describes one or two identifiable children.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, get_args

from services.reports.domain.facts import UNKNOWN, CaseFacts
from shared.events.legal import ProcessStage

# the legal service's stages, in order (shared.events.legal.ProcessStage)
STAGES: tuple[str, ...] = get_args(ProcessStage)
# Archiving from the intermediate stage on is the judge's dismissal (sobreseimiento), before it the
# prosecutor's archive.
DISMISSAL_STAGES = frozenset(STAGES[STAGES.index("intermediate_stage") :])
OUTCOMES = ("archived", "dismissed", "convicted", "acquitted", "stalled")
# A prosecution counts as stalled when the processor ever raised one of these on it.
STALL_RULES = frozenset({"legal.no_activity", "legal.stage_overdue"})
PSYCHOSOCIAL = "psychosocial"
FOLLOWUP_MONTHS = (3, 6, 12)
DIMENSIONS = ("org", "region", "exploitation", "period")
NO_EXPLOITATION = "none"


def _dt(value: str | None) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day(value: str | None) -> date | None:
    dt = _dt(value)
    return dt.date() if dt else None


def period_of(facts: CaseFacts) -> str:
    """The month a case is counted in: its registration month (``YYYY-MM``)."""
    at = _dt(facts.registered_at)
    return at.strftime("%Y-%m") if at else UNKNOWN


def exploitation_key(types: Iterable[str]) -> str:
    """A case with several types sits in one cell (``A+B``), so totals count it once."""
    values = sorted(set(types))
    return "+".join(values) if values else NO_EXPLOITATION


def cell_key(facts: CaseFacts) -> dict[str, str]:
    return {
        "org": facts.org or UNKNOWN,
        "region": facts.region,
        "exploitation": exploitation_key(facts.exploitation),
        "period": period_of(facts),
    }


def cell_id(key: Mapping[str, str]) -> str:
    return "|".join(key[d] for d in DIMENSIONS)


def _bump(hist: dict[str, int], value: float) -> None:
    slot = str(max(0, int(math.floor(value))))
    hist[slot] = hist.get(slot, 0) + 1


def stage_stays(facts: CaseFacts) -> list[tuple[str, float]]:
    """Completed stays ``(stage, days)`` in order; repeated entries of one stage (a moved deadline
    republishes it) are one stay; the current stage has no end yet and is left out."""
    entries = sorted(
        ((e["at"], eid, e["stage"]) for eid, e in facts.stages.items() if e.get("stage") and e.get("at")),
    )
    timeline: list[tuple[datetime, str]] = []
    for at, _eid, stage in entries:
        if timeline and timeline[-1][1] == stage:
            continue
        parsed = _dt(at)
        assert parsed is not None
        timeline.append((parsed, stage))
    stays = []
    for (start, stage), (end, _next) in zip(timeline, timeline[1:], strict=False):
        stays.append((stage, max(0.0, (end - start).total_seconds() / 86400)))
    return stays


def outcome_of(facts: CaseFacts) -> str | None:
    """archived / dismissed (archive from the intermediate stage on) / convicted / acquitted, or None."""
    timeline = [
        e["stage"] for _at, _eid, e in sorted((e["at"], k, e) for k, e in facts.stages.items() if e.get("stage"))
    ]
    if timeline and timeline[-1] == "archived":
        before = [s for s in timeline[:-1] if s != "archived"]
        return "dismissed" if before and before[-1] in DISMISSAL_STAGES else "archived"
    if facts.verdicts:
        latest = max(facts.verdicts.values(), key=lambda v: v.get("at") or "")
        return "convicted" if latest.get("outcome") == "conviction" else "acquitted"
    return None


def contribution(facts: CaseFacts) -> dict[str, Any]:
    """What one case adds to its cell (only counters and histograms, nothing about the case)."""
    out: dict[str, Any] = {"cases": 1}
    if facts.stages or facts.verdicts:
        out["prosecuted"] = 1
        outcome = outcome_of(facts)
        if outcome:
            out[f"outcome_{outcome}"] = 1
        if any(a.get("rule") in STALL_RULES for a in facts.alerts.values()):
            out["outcome_stalled"] = 1
        stays: dict[str, dict[str, int]] = {}
        for stage, days in stage_stays(facts):
            if stage in STAGES:
                _bump(stays.setdefault(stage, {}), days)
        if stays:
            out["stage_days"] = stays
    rescue = _day(facts.rescue_date)
    if rescue is not None:
        out["with_rescue_date"] = 1
        psy = [
            _day(s.get("at"))
            for s in facts.sessions.values()
            if s.get("kind") == PSYCHOSOCIAL and s.get("outcome") == "attended" and s.get("at")
        ]
        first = min((d for d in psy if d is not None), default=None)
        if first is not None:
            hist: dict[str, int] = {}
            _bump(hist, (first - rescue).days)
            out["rescue_to_psychosocial_days"] = hist
    planned = 0
    for service_id, svc in facts.services.items():
        declared = svc.get("planned")
        recorded = sum(
            1 for s in facts.sessions.values() if s.get("service_id") == service_id and s.get("outcome") != "cancelled"
        )
        # an open-ended plan (no count) is judged on the sessions that fell due: those recorded
        planned += int(declared) if isinstance(declared, int) and declared > 0 else recorded
    attended = sum(1 for s in facts.sessions.values() if s.get("outcome") == "attended")
    if planned or attended:
        out["with_services"] = 1
        out["sessions_planned"] = max(planned, attended)
        out["sessions_attended"] = attended
    anchor = _day(facts.closed_at) or _day(facts.registered_at)
    if facts.followups and anchor is not None:
        fu: dict[str, dict[str, int]] = {}
        for item in facts.followups.values():
            planned_day = _day(item.get("planned"))
            if planned_day is None:
                continue
            months = (planned_day - anchor).days / 30.44
            milestone = min(FOLLOWUP_MONTHS, key=lambda m: abs(m - months))
            slot = fu.setdefault(str(milestone), {"planned": 0, "done": 0})
            slot["planned"] += 1
            if item.get("done"):
                slot["done"] += 1
        if fu:
            out["followups"] = fu
    raised = [a for a in facts.alerts.values() if a.get("raised_at")]
    if raised:
        out["with_alerts"] = 1
        out["alerts_raised"] = len(raised)
        ack: dict[str, int] = {}
        for a in raised:
            acked, at = _dt(a.get("ack_at")), _dt(a.get("raised_at"))
            if acked is not None and at is not None:
                _bump(ack, (acked - at).total_seconds() / 3600)
        if ack:
            out["alerts_acknowledged"] = sum(ack.values())
            out["ack_hours"] = ack
    return out


def merge(into: dict[str, Any], part: Mapping[str, Any]) -> dict[str, Any]:
    """Add ``part`` into ``into`` (nested counters), in place; returns ``into``."""
    for key, value in part.items():
        if isinstance(value, Mapping):
            merge(into.setdefault(key, {}), value)
        else:
            into[key] = into.get(key, 0) + value
    return into


def quantile(hist: Mapping[str, int], q: float) -> float | None:
    """Nearest-rank quantile of a day histogram."""
    total = sum(hist.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for value in sorted(hist, key=int):
        seen += hist[value]
        if seen >= rank:
            return float(value)
    return None


class Suppressor:
    """Blank whatever rests on fewer than ``k`` cases, and remember the path of each blank."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.suppressed: list[str] = []

    def count(self, path: str, n: int) -> int | None:
        if 0 < n < self.k:
            self.suppressed.append(path)
            return None
        return n

    def share(self, path: str, num: int, den: int) -> float | None:
        if den == 0:
            return None
        if den < self.k or 0 < num < self.k:
            self.suppressed.append(path)
            return None
        return round(num / den, 4)

    def stats(self, path: str, hist: Mapping[str, int]) -> dict[str, Any]:
        n = sum(hist.values())
        if 0 < n < self.k:
            self.suppressed.append(path)
            return {"n": None, "median": None, "p90": None}
        return {"n": n, "median": quantile(hist, 0.5), "p90": quantile(hist, 0.9)}


def figures(cell: Mapping[str, Any], k: int) -> dict[str, Any]:
    """The figures of one (merged) cell, with every small count suppressed."""
    s = Suppressor(k)
    cases = int(cell.get("cases", 0))
    prosecuted = int(cell.get("prosecuted", 0))
    out: dict[str, Any] = {"cases": s.count("cases", cases)}
    if cases and cases < k:
        # the whole group is small: nothing about it may be shown
        out.update(prosecution=None, rescue_to_psychosocial_days=None, service_coverage=None, followups=None)
        out["alerts"] = None
        out["suppressed"] = ["*"]
        return out
    outcomes = {
        name: {
            "n": s.count(f"prosecution.{name}.n", int(cell.get(f"outcome_{name}", 0))),
            "share": s.share(f"prosecution.{name}.share", int(cell.get(f"outcome_{name}", 0)), prosecuted),
        }
        for name in OUTCOMES
    }
    stage_days = cell.get("stage_days", {})
    out["prosecution"] = {
        "cases": s.count("prosecution.cases", prosecuted),
        **outcomes,
        "stage_days": {st: s.stats(f"prosecution.stage_days.{st}", stage_days.get(st, {})) for st in STAGES},
    }
    psy = cell.get("rescue_to_psychosocial_days", {})
    with_rescue = int(cell.get("with_rescue_date", 0))
    out["rescue_to_psychosocial_days"] = {
        **s.stats("rescue_to_psychosocial_days", psy),
        "cases_with_rescue_date": s.count("rescue_to_psychosocial_days.cases_with_rescue_date", with_rescue),
        "share_with_session": s.share("rescue_to_psychosocial_days.share_with_session", sum(psy.values()), with_rescue),
    }
    planned, attended = int(cell.get("sessions_planned", 0)), int(cell.get("sessions_attended", 0))
    with_services = int(cell.get("with_services", 0))
    coverage_ok = with_services >= k or with_services == 0
    if not coverage_ok:
        s.suppressed.append("service_coverage")
    out["service_coverage"] = {
        "cases": s.count("service_coverage.cases", with_services),
        "sessions_planned": planned if coverage_ok else None,
        "sessions_attended": attended if coverage_ok else None,
        "coverage": round(attended / planned, 4) if coverage_ok and planned else None,
    }
    fu = cell.get("followups", {})
    out["followups"] = {
        f"{m}m": {
            "planned": s.count(f"followups.{m}m.planned", int(fu.get(str(m), {}).get("planned", 0))),
            "done": s.count(f"followups.{m}m.done", int(fu.get(str(m), {}).get("done", 0))),
            "share_done": s.share(
                f"followups.{m}m.share_done",
                int(fu.get(str(m), {}).get("done", 0)),
                int(fu.get(str(m), {}).get("planned", 0)),
            ),
        }
        for m in FOLLOWUP_MONTHS
    }
    raised = int(cell.get("alerts_raised", 0))
    out["alerts"] = {
        "raised": s.count("alerts.raised", raised),
        "per_case": round(raised / cases, 4) if cases else None,
        "cases_with_alerts": s.count("alerts.cases_with_alerts", int(cell.get("with_alerts", 0))),
        "hours_to_acknowledge": s.stats("alerts.hours_to_acknowledge", cell.get("ack_hours", {})),
    }
    out["suppressed"] = s.suppressed
    return out


def flatten(fig: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (CSV columns); lists (``suppressed``) are left out."""
    out: dict[str, Any] = {}
    for key, value in fig.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, path + "."))
        elif not isinstance(value, list):
            out[path] = value
    return out
