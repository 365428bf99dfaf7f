"""The rules of DESIGN.md as pure functions ``(state, now, rule config) -> RuleResult``.

A rule fires when ``now >= due`` (at the threshold exactly, it fires). Every result also says
when its answer could next change by the passage of time alone (``next_check``): that is what
the processor's deadline heap schedules, so a tick costs in proportion to the deadlines due.
Summaries and evidence name the rule, what is overdue and the event ids — never identity.

A rule registered ``per_subject`` answers one finding per *thing* that is late (a service, a
hearing, a follow-up, a deadline), keyed by a stable subject id in ``RuleResult.findings``: each
subject is its own alert with its own episodes and its own resolution (issue 13 item 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from services.processor.domain.state import CaseState, day_end
from services.processor.domain.thresholds import RuleConfig, format_duration
from shared.vocab import SEVERITIES

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
    # per-signal rules: the ids of the signals at or above the floor, oldest first, with their findings
    signal_findings: dict[str, Finding] = field(default_factory=dict)
    # per-subject rules: one finding per late thing (subject id -> finding); absent subjects are clear
    findings: dict[str, Finding] | None = None


Rule = Callable[[CaseState, datetime, RuleConfig], RuleResult]
# The registry: every rule this module defines, in definition order. RULE_IDS, the thresholds a
# policy must give each rule and the per-signal rules are derived from it (bottom of the module),
# so adding a rule is one decorated function plus its entry in policy.yaml.
RULES: dict[str, Rule] = {}
_REQUIRES: dict[str, tuple[str, ...]] = {}
_PER_SIGNAL: set[str] = set()
_PER_SUBJECT: set[str] = set()


def rule(
    rule_id: str, *, requires: tuple[str, ...] = (), per_signal: bool = False, per_subject: bool = False
) -> Callable[[Rule], Rule]:
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
        if per_subject:
            _PER_SUBJECT.add(rule_id)
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
            # a per-subject rule answers "no subject is late", so each of its open alerts resolves
            findings: dict[str, Finding] | None = {} if rule_id in _PER_SUBJECT else None
            results.append(RuleResult(rule_id, clear_reason="rule disabled in the alert policy", findings=findings))
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
    if st.legal_seen:
        if not st.prosecution_open or st.last_legal_at is None:
            return RuleResult(rid, clear_reason="prosecution ended")
        ref, ref_event, since = st.last_legal_at, st.last_legal_event_id, "last court or prosecutor update"
    else:
        # no court update ever arrived: the stall counts from the registration (issue 13 item 12)
        if not st.case_open or st.registered_at is None:
            return RuleResult(rid, clear_reason="case closed")
        ref, ref_event, since = st.registered_at, st.registered_event_id, "registration, no court update ever"
    due = ref + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="court update arrived")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"no court or prosecutor update for {format_duration(_after(cfg))} "
            f"(since {since}, {iso(ref)}) while the prosecution is open",
            {
                "stage": st.stage,
                "last_legal_event_at": iso(st.last_legal_at),
                "counted_from": "last_legal_event" if st.legal_seen else "registration",
                "threshold": format_duration(_after(cfg)),
                "deadline_at": iso(due),
                "event_ids": [ref_event] if ref_event else [],
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


@rule("legal.hearing_outcome_missing", requires=("after",), per_subject=True)
def hearing_outcome_missing(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.hearing_outcome_missing"
    after = _after(cfg)
    findings: dict[str, Finding] = {}
    upcoming: list[datetime] = []
    if st.prosecution_open or not st.legal_seen:
        for hearing_id, h in sorted(st.hearings.items()):
            due = h.scheduled_for + after
            if now < due:
                upcoming.append(due)
                continue
            findings[f"hearing:{hearing_id}"] = Finding(
                rid,
                cfg.severity,
                f"hearing of {iso(h.scheduled_for)} held more than {format_duration(after)} ago "
                "with no outcome reported",
                {
                    "subject": f"hearing:{hearing_id}",
                    "hearing_id": hearing_id,
                    "scheduled_for": iso(h.scheduled_for),
                    "threshold": format_duration(after),
                    "deadline_at": iso(due),
                    "event_ids": [h.event_id],
                },
            )
    reason = "hearing outcome reported" if st.prosecution_open else "prosecution ended: no outcome can be reported"
    return RuleResult(rid, next_check=_future(now, *upcoming), clear_reason=reason, findings=findings)


@rule("legal.no_representation", requires=("after",))
def no_representation(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.no_representation"
    if st.represented:
        return RuleResult(rid, clear_reason="legal representation assigned")
    if cfg.own_advocate_counts and st.advocate_id:
        # the organisation's own advocate represents the child too (issue 13 item 10)
        return RuleResult(rid, clear_reason="the organisation's advocate was assigned")
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


@rule("legal.victim_not_notified", requires=("after",), per_subject=True)
def victim_not_notified(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.victim_not_notified"
    after = _after(cfg)
    about = set(cfg.notification_about)
    findings: dict[str, Finding] = {}
    upcoming: list[datetime] = []
    for d in st.decisions:
        # only a notification about the decision (or a general one) at or after it answers it: a hearing
        # summons sent after a verdict does not tell the child of the verdict (issue 13 item 5)
        if any(n.at >= d.at and (not about or n.about in about) for n in st.notices):
            continue
        due = d.at + after
        if now < due:
            upcoming.append(due)
            continue
        subject = f"decision:{d.trigger}:{d.event_id}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"child not notified within {format_duration(after)} of the {_DECISION_WORDS.get(d.trigger, d.trigger)}",
            {
                "subject": subject,
                "trigger": d.trigger,
                "since": iso(d.at),
                "deadline_at": iso(due),
                "event_ids": [d.event_id],
            },
        )
    return RuleResult(rid, next_check=_future(now, *upcoming), clear_reason="victim notified", findings=findings)


_DECISION_WORDS = {"archived": "archive", "verdict": "verdict", "dismissal": "dismissal (sobreseimiento)"}


@rule("legal.victim_absent", requires=("count",))
def victim_absent(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.victim_absent"
    limit = _count(cfg, 2)
    # counted by when the hearings happened (state.recount), not by when the reports arrived
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


@rule("service.overdue", requires=("after",), per_subject=True)
def service_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.overdue"
    if not st.case_open:
        return RuleResult(rid, clear_reason="case closed", findings={})
    after = _after(cfg)
    findings: dict[str, Finding] = {}
    upcoming: list[datetime] = []
    for service_id, svc in sorted(st.services.items()):
        nd = svc.next_due_at()
        if nd is None:
            continue
        if now < nd + after:
            upcoming.append(nd + after)
            continue
        subject = f"service:{service_id}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"{svc.service_kind} session not recorded {format_duration(after)} after its due date {iso(nd)}",
            {
                "subject": subject,
                "services": [
                    {
                        "service_id": service_id,
                        "service_kind": svc.service_kind,
                        "due_at": iso(nd),
                        "session": svc.sessions_recorded + 1,
                    }
                ],
                "threshold": format_duration(after),
                "event_ids": [svc.planned_event_id] if svc.planned_event_id else [],
            },
        )
    return RuleResult(rid, next_check=_future(now, *upcoming), clear_reason="session recorded", findings=findings)


@rule("service.missed_consecutive", requires=("count",), per_subject=True)
def service_missed_consecutive(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.missed_consecutive"
    if not st.case_open:
        return RuleResult(rid, clear_reason="case closed", findings={})
    limit = _count(cfg, 2)
    findings: dict[str, Finding] = {}
    for sid, svc in sorted(st.services.items()):
        if svc.consecutive_missed < limit:
            continue
        subject = f"service:{sid}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"{svc.service_kind} sessions missed {svc.consecutive_missed} times in a row (threshold {limit})",
            {
                "subject": subject,
                "services": [
                    {"service_id": sid, "service_kind": svc.service_kind, "consecutive_missed": svc.consecutive_missed}
                ],
                "threshold": limit,
                "event_ids": svc.missed_event_ids[-limit:],
            },
        )
    return RuleResult(rid, clear_reason="session attended", findings=findings)


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
    per_signal: dict[str, Finding] = {}
    for sig in signals:
        if sig.kind == "reregistered":
            what = "same child registered in a new case"
        elif sig.kind == "registered_again":
            what = "the child of this case was registered again in a later case"
        else:
            what = f"risk flag '{sig.kind}'"
        per_signal[sig.signal_id] = Finding(
            rid,
            cfg.severity,
            f"revictimisation risk: {what} ({sig.severity})",
            {
                "signal": sig.kind,
                "signal_severity": sig.severity,
                "signal_at": iso(sig.at),
                "signal_id": sig.signal_id,
                "event_ids": [sig.event_id],
            },
        )
    latest = per_signal[signals[-1].signal_id]
    return RuleResult(rid, latest, signals=len(signals), signal_findings=per_signal)


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


@rule("followup.overdue", per_subject=True)
def followup_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "followup.overdue"
    findings: dict[str, Finding] = {}
    upcoming: list[datetime] = []
    for fid, f in sorted(st.followups.items()):
        if f.done:
            continue
        # the planned day ends at midnight in the organisation's time zone (issue 13 item 11)
        due = day_end(f.planned_date, cfg.timezone) + cfg.grace
        if now < due:
            upcoming.append(due)
            continue
        subject = f"followup:{fid}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"follow-up planned for {f.planned_date.isoformat()} not done by its date",
            {
                "subject": subject,
                "followups": [{"followup_id": fid, "planned_date": f.planned_date.isoformat()}],
                "deadline_at": iso(due),
                "event_ids": [f.event_id] if f.event_id else [],
            },
        )
    if st.closed_at is not None and not st.case_open:
        for k, offset in enumerate(cfg.schedule_after_closure, start=1):
            if st.followups_done_after_closure >= k:
                continue
            due = st.closed_at + offset + cfg.grace
            if now < due:
                upcoming.append(due)
                continue
            subject = f"post-closure:{k}"
            findings[subject] = Finding(
                rid,
                cfg.severity,
                f"post-closure follow-up #{k} ({format_duration(offset)} after closure) not done by {iso(due)}",
                {
                    "subject": subject,
                    "followups": [{"followup": f"post-closure #{k} ({format_duration(offset)})", "due_at": iso(due)}],
                    "closed_at": iso(st.closed_at),
                    "event_ids": [],
                },
            )
    return RuleResult(rid, next_check=_future(now, *upcoming), clear_reason="follow-up recorded", findings=findings)


# -- reminders before a date (issue 12 item 5)


def _active_lead(due: datetime, now: datetime, leads: tuple[timedelta, ...]) -> timedelta | None:
    """The tightest lead time already reached before ``due`` (None: too early, or the date passed)."""
    if now >= due:
        return None
    reached = [lead for lead in leads if now >= due - lead]
    return min(reached) if reached else None


def _lead_checks(due: datetime, leads: tuple[timedelta, ...]) -> list[datetime]:
    return [due - lead for lead in leads] + [due]


@rule("legal.deadline_approaching", per_subject=True)
def deadline_approaching(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.deadline_approaching"
    leads = cfg.lead_times
    dates: list[tuple[str, str, datetime, str | None, str]] = []
    if st.prosecution_open and st.deadline_at is not None and st.stage:
        dates.append((f"stage:{st.stage}", f"stage '{st.stage}'", st.deadline_at, None, st.stage_event_id or ""))
    if st.prosecution_open or not st.legal_seen or st.stage == "archived":
        # an archive's elevation window (art. 334.5) runs while the case is archived
        for did, d in sorted(st.deadlines.items()):
            dates.append((f"deadline:{did}", d.kind, d.due_at, d.article, d.event_id))
    findings: dict[str, Finding] = {}
    checks: list[datetime] = []
    for key, what, due, article, eid in dates:
        checks += _lead_checks(due, leads)
        lead = _active_lead(due, now, leads)
        if lead is None:
            continue
        # one alert per deadline and lead time: the 3-day reminder is news even after the 10-day one
        subject = f"{key}@{format_duration(lead)}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"deadline of {what} in less than {format_duration(lead)} ({iso(due)})",
            {
                "subject": subject,
                "deadline": key,
                "deadline_at": iso(due),
                "lead_time": format_duration(lead),
                "article": article,
                "event_ids": [eid] if eid else [],
            },
        )
    return RuleResult(
        rid,
        next_check=_future(now, *checks),
        clear_reason="deadline met, moved or reached",
        findings=findings,
    )


@rule("legal.hearing_upcoming", per_subject=True)
def hearing_upcoming(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.hearing_upcoming"
    findings: dict[str, Finding] = {}
    checks: list[datetime] = []
    if st.prosecution_open:
        for hearing_id, h in sorted(st.hearings.items()):
            checks += _lead_checks(h.scheduled_for, cfg.lead_times)
            lead = _active_lead(h.scheduled_for, now, cfg.lead_times)
            if lead is None:
                continue
            subject = f"hearing:{hearing_id}@{format_duration(lead)}"
            findings[subject] = Finding(
                rid,
                cfg.severity,
                f"hearing on {iso(h.scheduled_for)}, in less than {format_duration(lead)}: arrange the child's "
                "attendance and psychosocial accompaniment",
                {
                    "subject": subject,
                    "hearing_id": hearing_id,
                    "scheduled_for": iso(h.scheduled_for),
                    "lead_time": format_duration(lead),
                    "event_ids": [h.event_id],
                },
            )
    return RuleResult(
        rid,
        next_check=_future(now, *checks),
        clear_reason="hearing held, moved or reached",
        findings=findings,
    )


@rule("legal.deadline_missed", per_subject=True)
def deadline_missed(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    """A duty deadline from ``deadline_set`` (someone must act by it) passed while still open; a window
    (a right that lapses) only has reminders."""
    rid = "legal.deadline_missed"
    findings: dict[str, Finding] = {}
    upcoming: list[datetime] = []
    for did, d in sorted(st.deadlines.items()):
        if d.nature != "duty":
            continue
        due = d.due_at + cfg.grace
        if now < due:
            upcoming.append(due)
            continue
        subject = f"deadline:{did}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"deadline '{d.kind}' passed on {iso(d.due_at)} with nothing reported"
            + (f" ({d.article})" if d.article else ""),
            {
                "subject": subject,
                "deadline_kind": d.kind,
                "deadline_at": iso(d.due_at),
                "article": d.article,
                "event_ids": [d.event_id] if d.event_id else [],
            },
        )
    return RuleResult(
        rid, next_check=_future(now, *upcoming), clear_reason="deadline met or cancelled", findings=findings
    )


# -- reintegration (IOM indicators) and harm from the justice process (issue 13 items 13-14)


@rule("reintegration.school_dropout")
def school_dropout(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "reintegration.school_dropout"
    edu = st.reintegration.get("education")
    statuses = set(cfg.statuses or ("dropped_out",))
    if not st.case_open or edu is None or edu.status not in statuses:
        return RuleResult(rid, clear_reason="child back in education" if st.case_open else "case closed")
    # from the start of the effective day in the organisation's time zone
    due = day_end(edu.effective_date - timedelta(days=1), cfg.timezone) + cfg.grace
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="child back in education")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"school dropout recorded (effective {edu.effective_date.isoformat()})",
            {"status": edu.status, "effective_date": edu.effective_date.isoformat(), "event_ids": [edu.event_id]},
        ),
    )


@rule("reintegration.placement_review_overdue", requires=("after",))
def placement_review_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "reintegration.placement_review_overdue"
    placement = st.reintegration.get("placement")
    if not st.case_open or placement is None:
        return RuleResult(rid, clear_reason="case closed" if placement is not None else "no placement recorded")
    due = day_end(placement.effective_date, cfg.timezone) + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="placement reviewed")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"placement ({placement.status}) not reviewed for {format_duration(_after(cfg))} "
            f"(last record effective {placement.effective_date.isoformat()})",
            {
                "placement": placement.status,
                "effective_date": placement.effective_date.isoformat(),
                "deadline_at": iso(due),
                "event_ids": [placement.event_id],
            },
        ),
    )


@rule("harm.reparation_unpaid", requires=("after",))
def reparation_unpaid(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "harm.reparation_unpaid"
    paid = st.last_reparation_paid_at
    unpaid = [m for m in st.reparation_orders if paid is None or paid < m.at]
    if not unpaid:
        return RuleResult(rid, clear_reason="reparation paid")
    first = unpaid[0]
    due = first.at + _after(cfg)
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason="reparation paid")
    return RuleResult(
        rid,
        Finding(
            rid,
            cfg.severity,
            f"reparation ordered on {iso(first.at)} still unpaid after {format_duration(_after(cfg))}",
            {"ordered_at": iso(first.at), "deadline_at": iso(due), "event_ids": [m.event_id for m in unpaid]},
        ),
    )


@rule("harm.hearing_without_accompaniment", requires=("after",), per_subject=True)
def hearing_without_accompaniment(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    """The child attended a hearing and no psychosocial session (the policy's service kinds) is recorded
    within ``after`` of it, before or after: raised once ``after`` has passed (a late report clears it)."""
    rid = "harm.hearing_without_accompaniment"
    window = _after(cfg)
    kinds = set(cfg.service_kinds)
    findings: dict[str, Finding] = {}
    upcoming: list[datetime] = []
    for mark in st.attendance:
        if mark.kind != "present":
            continue
        if any(s.kind in kinds and abs(s.at - mark.at) <= window for s in st.attended_sessions):
            continue
        due = mark.at + window
        if now < due:
            upcoming.append(due)
            continue
        subject = f"hearing:{mark.ref or mark.event_id}"
        findings[subject] = Finding(
            rid,
            cfg.severity,
            f"the child attended a hearing on {iso(mark.at)} with no psychosocial accompaniment recorded "
            f"within {format_duration(window)}",
            {
                "subject": subject,
                "hearing_id": mark.ref or None,
                "attended_at": iso(mark.at),
                "window": format_duration(window),
                "event_ids": [mark.event_id],
            },
        )
    return RuleResult(
        rid,
        next_check=_future(now, *upcoming),
        clear_reason="psychosocial accompaniment recorded",
        findings=findings,
    )


# Derived from the registry above (the policy loader and the episode logic read these).
RULE_IDS: tuple[str, ...] = tuple(RULES)
REQUIRED_THRESHOLDS: dict[str, tuple[str, ...]] = dict(_REQUIRES)
PER_SIGNAL_RULES: frozenset[str] = frozenset(_PER_SIGNAL)
PER_SUBJECT_RULES: frozenset[str] = frozenset(_PER_SUBJECT)
