"""The rules of DESIGN.md as pure functions ``(state, now, rule config) -> RuleResult``.

A rule fires when ``now >= due`` (at the threshold exactly, it fires). Every result also says
when its answer could next change by the passage of time alone (``next_check``): that is what
the processor's deadline heap schedules, so a tick costs in proportion to the deadlines due.
Summaries and evidence name the rule, what is overdue and the event ids — never identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.processor.domain.state import CaseState, day_end
from services.processor.domain.thresholds import SEVERITIES, RuleConfig, format_duration

if TYPE_CHECKING:  # the policy loader imports this registry to learn the rule ids
    from services.processor.domain.policy import Policy


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    rule: str
    finding: Finding | None = None
    # the earliest future instant at which this rule's answer may change without a new event
    next_check: datetime | None = None
    # why the condition is not (or no longer) present: the text of an automatic resolution
    clear_reason: str = "condition cleared"
    # per-signal rules (risk.revictimisation): how many distinct signals exist; each is an episode
    signals: int = 0


Rule = Callable[[CaseState, datetime, RuleConfig], RuleResult]
# The registry: every rule this module defines, in definition order. RULE_IDS, the thresholds a
# policy must give each rule and the per-signal rules are derived from it (bottom of the module),
# so adding a rule is one decorated function plus its entry in policy.yaml.
RULES: dict[str, Rule] = {}
_REQUIRES: dict[str, tuple[str, ...]] = {}
_PER_SIGNAL: set[str] = set()


def rule(rule_id: str, *, requires: tuple[str, ...] = (), per_signal: bool = False) -> Callable[[Rule], Rule]:
    """Register a rule. ``requires``: the thresholds (``after``, ``count``) it cannot do without — a
    policy that leaves one unset is refused rather than silently inert. ``per_signal``: one episode
    per distinct signal, never auto-resolved (see episodes.reconcile)."""

    def register(fn: Rule) -> Rule:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} registered twice")
        RULES[rule_id] = fn
        if requires:
            _REQUIRES[rule_id] = requires
        if per_signal:
            _PER_SIGNAL.add(rule_id)
        return fn

    return register


def iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt is not None else None


def _future(now: datetime, *candidates: datetime | None) -> datetime | None:
    later = [c for c in candidates if c is not None and c > now]
    return min(later) if later else None


def _after(cfg: RuleConfig) -> timedelta:
    return cfg.after if cfg.after is not None else timedelta(0)


def _count(cfg: RuleConfig, default: int) -> int:
    return cfg.count if cfg.count is not None else default


def evaluate(state: CaseState, now: datetime, policy: Policy) -> list[RuleResult]:
    """Every rule of the policy against one case. A disabled rule reports 'not firing'."""
    results = []
    for rule_id, fn in RULES.items():
        cfg = policy.rules.get(rule_id)
        if cfg is None or not cfg.enabled:
            results.append(RuleResult(rule_id, clear_reason="rule disabled in the alert policy"))
            continue
        results.append(fn(state, now, cfg))
    return results


def next_check(results: list[RuleResult]) -> datetime | None:
    times = [r.next_check for r in results if r.next_check is not None]
    return min(times) if times else None


# -- legal


@rule("legal.stage_overdue")
def stage_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.stage_overdue"
    if not st.prosecution_open or st.deadline_at is None:
        reason = "prosecution ended" if st.legal_seen and not st.prosecution_open else "court update arrived"
        return RuleResult(rid, clear_reason=reason)
    due = st.deadline_at + cfg.grace
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="court update arrived: stage changed or deadline moved")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"prosecution stage '{st.stage}' ran past its statutory deadline {iso(st.deadline_at)}",
            {
                "stage": st.stage,
                "stage_started_at": iso(st.stage_started_at),
                "deadline_at": iso(st.deadline_at),
                "event_ids": [st.stage_event_id] if st.stage_event_id else [],
            },
        ),
    )


@rule("legal.no_activity", requires=("after",))
def no_activity(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.no_activity"
    if not st.prosecution_open or st.last_legal_at is None:
        return RuleResult(rid, clear_reason="prosecution ended")
    due = st.last_legal_at + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="court update arrived")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"no court or prosecutor update for {format_duration(_after(cfg))} "
            f"(last {iso(st.last_legal_at)}) while the prosecution is open",
            {
                "stage": st.stage,
                "last_legal_event_at": iso(st.last_legal_at),
                "threshold": format_duration(_after(cfg)),
                "deadline_at": iso(due),
                "event_ids": [st.last_legal_event_id] if st.last_legal_event_id else [],
            },
        ),
    )


@rule("legal.hearing_postponed_repeatedly", requires=("count",))
def hearing_postponed_repeatedly(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.hearing_postponed_repeatedly"
    limit = _count(cfg, 3)
    if not st.prosecution_open or st.postponements_in_stage < limit:
        return RuleResult(rid, clear_reason="stage changed")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"{st.postponements_in_stage} hearing postponements in stage '{st.stage}' (threshold {limit})",
            {
                "stage": st.stage,
                "postponements_in_stage": st.postponements_in_stage,
                "threshold": limit,
                "event_ids": st.postponement_event_ids[-limit:],
            },
        ),
    )


@rule("legal.hearing_outcome_missing", requires=("after",))
def hearing_outcome_missing(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.hearing_outcome_missing"
    after = _after(cfg)
    overdue = []
    upcoming: list[datetime] = []
    for hearing_id, h in sorted(st.hearings.items()):
        due = h.scheduled_for + after
        if now >= due:
            overdue.append((hearing_id, h))
        else:
            upcoming.append(due)
    nxt = _future(now, *upcoming)
    if not overdue:
        return RuleResult(rid, next_check=nxt, clear_reason="hearing outcome reported")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"{len(overdue)} hearing(s) held more than {format_duration(after)} ago with no outcome reported",
            {
                "hearings": [{"hearing_id": hid, "scheduled_for": iso(h.scheduled_for)} for hid, h in overdue],
                "threshold": format_duration(after),
                "event_ids": [h.event_id for _, h in overdue],
            },
        ),
        next_check=nxt,
    )


@rule("legal.no_representation", requires=("after",))
def no_representation(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.no_representation"
    if st.represented:
        return RuleResult(rid, clear_reason="legal representation assigned")
    if not st.case_open or st.registered_at is None:
        return RuleResult(rid, clear_reason="case closed")
    due = st.registered_at + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="legal representation assigned")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"no legal representation {format_duration(_after(cfg))} after registration",
            {
                "registered_at": iso(st.registered_at),
                "deadline_at": iso(due),
                "event_ids": [st.registered_event_id] if st.registered_event_id else [],
            },
        ),
    )


@rule("legal.victim_not_notified", requires=("after",))
def victim_not_notified(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.victim_not_notified"
    if st.notification_due_since is None:
        return RuleResult(rid, clear_reason="victim notified")
    due = st.notification_due_since + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="victim notified")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"child not notified within {format_duration(_after(cfg))} of the {st.notification_trigger}",
            {
                "trigger": st.notification_trigger,
                "since": iso(st.notification_due_since),
                "deadline_at": iso(due),
                "event_ids": [st.notification_event_id] if st.notification_event_id else [],
            },
        ),
    )


@rule("legal.victim_absent", requires=("count",))
def victim_absent(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.victim_absent"
    limit = _count(cfg, 2)
    if st.consecutive_absences < limit:
        return RuleResult(rid, clear_reason="child attended a hearing")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"child absent from {st.consecutive_absences} hearings in a row (threshold {limit}): abandonment risk",
            {
                "consecutive_absences": st.consecutive_absences,
                "threshold": limit,
                "event_ids": st.absence_event_ids[-limit:],
            },
        ),
    )


# -- services


@rule("service.overdue", requires=("after",))
def service_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.overdue"
    if not st.case_open:
        return RuleResult(rid, clear_reason="case closed")
    after = _after(cfg)
    overdue = []
    upcoming: list[datetime] = []
    for service_id, svc in sorted(st.services.items()):
        nd = svc.next_due_at()
        if nd is None:
            continue
        if now >= nd + after:
            overdue.append((service_id, svc, nd))
        else:
            upcoming.append(nd + after)
    nxt = _future(now, *upcoming)
    if not overdue:
        return RuleResult(rid, next_check=nxt, clear_reason="session recorded")
    kinds = sorted({svc.service_kind for _, svc, _ in overdue})
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"{', '.join(kinds)} session not recorded {format_duration(after)} after its due date "
            f"{iso(min(nd for _, _, nd in overdue))}",
            {
                "services": [
                    {
                        "service_id": sid,
                        "service_kind": svc.service_kind,
                        "due_at": iso(nd),
                        "session": svc.sessions_recorded + 1,
                    }
                    for sid, svc, nd in overdue
                ],
                "threshold": format_duration(after),
                "event_ids": [svc.planned_event_id for _, svc, _ in overdue if svc.planned_event_id],
            },
        ),
        next_check=nxt,
    )


@rule("service.missed_consecutive", requires=("count",))
def service_missed_consecutive(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.missed_consecutive"
    if not st.case_open:
        return RuleResult(rid, clear_reason="case closed")
    limit = _count(cfg, 2)
    missed = [(sid, svc) for sid, svc in sorted(st.services.items()) if svc.consecutive_missed >= limit]
    if not missed:
        return RuleResult(rid, clear_reason="session attended")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"{', '.join(sorted({s.service_kind for _, s in missed}))} sessions missed "
            f"{max(s.consecutive_missed for _, s in missed)} times in a row (threshold {limit})",
            {
                "services": [
                    {"service_id": sid, "service_kind": s.service_kind, "consecutive_missed": s.consecutive_missed}
                    for sid, s in missed
                ],
                "threshold": limit,
                "event_ids": [e for _, s in missed for e in s.missed_event_ids[-limit:]],
            },
        ),
    )


@rule("service.no_psychosocial", requires=("after",))
def service_no_psychosocial(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.no_psychosocial"
    if st.status != "Active" or st.registered_at is None:
        return RuleResult(rid, clear_reason="case no longer active")
    keys = [f"kind:{k}" for k in cfg.service_kinds] + [f"spl:{t}" for t in cfg.spl_types]
    last = max((st.last_attended[k] for k in keys if k in st.last_attended), default=None)
    ref = max(st.registered_at, last) if last is not None else st.registered_at
    due = ref + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="psychosocial session recorded")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"active case with no psychosocial session for {format_duration(_after(cfg))}",
            {
                "last_psychosocial_session_at": iso(last),
                "registered_at": iso(st.registered_at),
                "deadline_at": iso(due),
                "event_ids": [st.registered_event_id] if last is None and st.registered_event_id else [],
            },
        ),
    )


# -- risk


@rule("risk.revictimisation", per_signal=True)
def risk_revictimisation(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "risk.revictimisation"
    floor = SEVERITIES.index(cfg.min_flag_severity)
    signals = [s for s in st.risk_signals if SEVERITIES.index(s.severity) >= floor]
    if not signals:
        return RuleResult(rid, clear_reason="no risk signal")
    latest = signals[-1]
    what = "same child registered in a new case" if latest.kind == "reregistered" else f"risk flag '{latest.kind}'"
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"revictimisation risk: {what} ({latest.severity})",
            {
                "signal": latest.kind,
                "signal_severity": latest.severity,
                "signal_at": iso(latest.at),
                "signal_id": latest.signal_id,
                "event_ids": [latest.event_id],
            },
        ),
        signals=len(signals),
    )


# -- follow-up


@rule("followup.contact_lost", requires=("after",))
def followup_contact_lost(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "followup.contact_lost"
    if not st.case_open or st.registered_at is None:
        return RuleResult(rid, clear_reason="case closed")
    ref = max(st.registered_at, st.last_contact_at) if st.last_contact_at else st.registered_at
    due = ref + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="contact with the child recorded")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"no contact with the child for {format_duration(_after(cfg))} (session, follow-up or hearing attended)",
            {
                "last_contact_at": iso(st.last_contact_at),
                "registered_at": iso(st.registered_at),
                "deadline_at": iso(due),
                "event_ids": [],
            },
        ),
    )


@rule("followup.overdue")
def followup_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "followup.overdue"
    overdue: list[dict[str, Any]] = []
    upcoming: list[datetime] = []
    event_ids: list[str] = []
    for fid, f in sorted(st.followups.items()):
        if f.done:
            continue
        due = day_end(f.planned_date) + cfg.grace
        if now >= due:
            overdue.append({"followup_id": fid, "planned_date": f.planned_date.isoformat()})
            event_ids.append(f.event_id)
        else:
            upcoming.append(due)
    if st.closed_at is not None and not st.case_open:
        for k, offset in enumerate(cfg.schedule_after_closure, start=1):
            if st.followups_done_after_closure >= k:
                continue
            due = st.closed_at + offset + cfg.grace
            if now >= due:
                overdue.append({"followup": f"post-closure #{k} ({format_duration(offset)})", "due_at": iso(due)})
            else:
                upcoming.append(due)
    nxt = _future(now, *upcoming)
    if not overdue:
        return RuleResult(rid, next_check=nxt, clear_reason="follow-up recorded")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"{len(overdue)} follow-up(s) not done by their date",
            {"followups": overdue, "closed_at": iso(st.closed_at), "event_ids": event_ids},
        ),
        next_check=nxt,
    )


# Derived from the registry above (the policy loader and the episode logic read these).
RULE_IDS: tuple[str, ...] = tuple(RULES)
REQUIRED_THRESHOLDS: dict[str, tuple[str, ...]] = dict(_REQUIRES)
PER_SIGNAL_RULES: frozenset[str] = frozenset(_PER_SIGNAL)
