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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from services.processor.domain.state import (
    CaseState,
    Decision,
    HearingTrack,
    Mark,
    MeasureTrack,
    OpenDeadline,
    ServiceTrack,
    day_end,
)
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


# -- rule builders: the shapes every rule below shares

# A finding's words, computed only when the rule fires: (summary, evidence).
Describe = Callable[[], tuple[str, dict[str, Any]]]
# One thing that may be late (per-subject rules): its subject id, when it is late (None: it already is), its words.
Late = tuple[str, datetime | None, Describe]


def _clear(rid: str, reason: str, *, per_subject: bool = False) -> RuleResult:
    """Not firing, for ``reason`` (a per-subject rule answers "no subject is late": each open alert resolves)."""
    return RuleResult(rid, clear_reason=reason, findings={} if per_subject else None)


def _fire(rid: str, cfg: RuleConfig, describe: Describe) -> RuleResult:
    summary, evidence = describe()
    return RuleResult(rid, Finding(rid, cfg.severity, summary, evidence))


def _when_due(
    rid: str, cfg: RuleConfig, now: datetime, due: datetime, clear_reason: str, describe: Describe
) -> RuleResult:
    """A case-level time rule: quiet until ``due`` (and asks to be looked at then), then one finding."""
    if now < due:
        return RuleResult(rid, next_check=due, clear_reason=clear_reason)
    return _fire(rid, cfg, describe)


def _when(rid: str, cfg: RuleConfig, present: bool, clear_reason: str, describe: Describe) -> RuleResult:
    """A case-level event-driven rule: fires while ``present``."""
    return _fire(rid, cfg, describe) if present else _clear(rid, clear_reason)


def _each(
    rid: str, cfg: RuleConfig, now: datetime, items: Iterable[Late], clear_reason: str, checks: Iterable[datetime] = ()
) -> RuleResult:
    """A per-subject rule: one finding per item late at ``now`` (its subject in the evidence); the next
    check is the earliest item not late yet (or one of ``checks``)."""
    findings: dict[str, Finding] = {}
    upcoming = list(checks)
    for subject, due, describe in items:
        if due is not None and now < due:
            upcoming.append(due)
            continue
        summary, evidence = describe()
        findings[subject] = Finding(rid, cfg.severity, summary, {"subject": subject, **evidence})
    return RuleResult(rid, next_check=_future(now, *upcoming), clear_reason=clear_reason, findings=findings)


def _events(*event_ids: str | None) -> list[str]:
    return [e for e in event_ids if e]


# -- legal


@rule("legal.stage_overdue")
def stage_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.stage_overdue"
    if not st.prosecution_open or st.deadline_at is None:
        return _clear(rid, "prosecution ended" if st.legal_seen and not st.prosecution_open else "court update arrived")
    deadline = st.deadline_at
    return _when_due(
        rid,
        cfg,
        now,
        deadline + cfg.grace,
        "court update arrived: stage changed or deadline moved",
        lambda: (
            f"prosecution stage '{st.stage}' ran past its statutory deadline {iso(deadline)}",
            {
                "stage": st.stage,
                "stage_started_at": iso(st.stage_started_at),
                "deadline_at": iso(deadline),
                "event_ids": _events(st.stage_event_id),
            },
        ),
    )


@rule("legal.no_activity", requires=("after",))
def no_activity(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.no_activity"
    if st.legal_seen:
        if not st.prosecution_open or st.last_legal_at is None:
            return _clear(rid, "prosecution ended")
        ref, ref_event, since = st.last_legal_at, st.last_legal_event_id, "last court or prosecutor update"
    else:
        # no court update ever arrived: the stall counts from the registration (issue 13 item 12)
        if not st.case_open or st.registered_at is None:
            return _clear(rid, "case closed")
        ref, ref_event, since = st.registered_at, st.registered_event_id, "registration, no court update ever"
    due = ref + _after(cfg)
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "court update arrived",
        lambda: (
            f"no court or prosecutor update for {format_duration(_after(cfg))} "
            f"(since {since}, {iso(ref)}) while the prosecution is open",
            {
                "stage": st.stage,
                "last_legal_event_at": iso(st.last_legal_at),
                "counted_from": "last_legal_event" if st.legal_seen else "registration",
                "threshold": format_duration(_after(cfg)),
                "deadline_at": iso(due),
                "event_ids": _events(ref_event),
            },
        ),
    )


def _count_reached(
    rid: str,
    cfg: RuleConfig,
    count: int,
    limit: int,
    event_ids: list[str],
    clear_reason: str,
    summary: str,
    **evidence: Any,
) -> RuleResult:
    """A case-level count rule: fires while ``count`` reached ``limit``; evidence names the last ``limit`` events."""
    return _when(
        rid,
        cfg,
        count >= limit,
        clear_reason,
        lambda: (summary, {**evidence, "threshold": limit, "event_ids": event_ids[-limit:]}),
    )


@rule("legal.hearing_postponed_repeatedly", requires=("count",))
def hearing_postponed_repeatedly(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    limit = _count(cfg, 3)
    return _count_reached(
        "legal.hearing_postponed_repeatedly",
        cfg,
        st.postponements_in_stage if st.prosecution_open else 0,
        limit,
        st.postponement_event_ids,
        "stage changed",
        f"{st.postponements_in_stage} hearing postponements in stage '{st.stage}' (threshold {limit})",
        stage=st.stage,
        postponements_in_stage=st.postponements_in_stage,
    )


def _outcome_missing(hearing_id: str, h: HearingTrack, after: timedelta, due: datetime) -> tuple[str, dict[str, Any]]:
    return (
        f"hearing of {iso(h.scheduled_for)} held more than {format_duration(after)} ago with no outcome reported",
        {
            "hearing_id": hearing_id,
            "scheduled_for": iso(h.scheduled_for),
            "threshold": format_duration(after),
            "deadline_at": iso(due),
            "event_ids": [h.event_id],
        },
    )


@rule("legal.hearing_outcome_missing", requires=("after",), per_subject=True)
def hearing_outcome_missing(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    after = _after(cfg)
    watched = sorted(st.hearings.items()) if st.prosecution_open or not st.legal_seen else []
    items = (
        (f"hearing:{hid}", h.scheduled_for + after, partial(_outcome_missing, hid, h, after, h.scheduled_for + after))
        for hid, h in watched
    )
    reason = "hearing outcome reported" if st.prosecution_open else "prosecution ended: no outcome can be reported"
    return _each("legal.hearing_outcome_missing", cfg, now, items, reason)


@rule("legal.no_representation", requires=("after",))
def no_representation(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "legal.no_representation"
    if st.represented:
        return _clear(rid, "legal representation assigned")
    if cfg.own_advocate_counts and st.advocate_id:
        # the organisation's own advocate represents the child too (issue 13 item 10)
        return _clear(rid, "the organisation's advocate was assigned")
    if not st.case_open or st.registered_at is None:
        return _clear(rid, "case closed")
    registered, due = st.registered_at, st.registered_at + _after(cfg)
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "legal representation assigned",
        lambda: (
            f"no legal representation {format_duration(_after(cfg))} after registration",
            {"registered_at": iso(registered), "deadline_at": iso(due), "event_ids": _events(st.registered_event_id)},
        ),
    )


_DECISION_WORDS = {"archived": "archive", "verdict": "verdict", "dismissal": "dismissal (sobreseimiento)"}


def _not_notified(d: Decision, after: timedelta) -> tuple[str, dict[str, Any]]:
    return (
        f"child not notified within {format_duration(after)} of the {_DECISION_WORDS.get(d.trigger, d.trigger)}",
        {"trigger": d.trigger, "since": iso(d.at), "deadline_at": iso(d.at + after), "event_ids": [d.event_id]},
    )


@rule("legal.victim_not_notified", requires=("after",), per_subject=True)
def victim_not_notified(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    after = _after(cfg)
    about = set(cfg.notification_about)
    # only a notification about the decision (or a general one) at or after it answers it: a hearing
    # summons sent after a verdict does not tell the child of the verdict (issue 13 item 5)
    pending = [d for d in st.decisions if not any(n.at >= d.at and (not about or n.about in about) for n in st.notices)]
    items = ((f"decision:{d.trigger}:{d.event_id}", d.at + after, partial(_not_notified, d, after)) for d in pending)
    return _each("legal.victim_not_notified", cfg, now, items, "victim notified")


@rule("legal.victim_absent", requires=("count",))
def victim_absent(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    limit = _count(cfg, 2)
    # counted by when the hearings happened (state.recount), not by when the reports arrived
    return _count_reached(
        "legal.victim_absent",
        cfg,
        st.consecutive_absences,
        limit,
        st.absence_event_ids,
        "child attended a hearing",
        f"child absent from {st.consecutive_absences} hearings in a row (threshold {limit}): abandonment risk",
        consecutive_absences=st.consecutive_absences,
    )


# -- services


def _service_overdue(sid: str, svc: ServiceTrack, due: datetime, after: timedelta) -> tuple[str, dict[str, Any]]:
    return (
        f"{svc.service_kind} session not recorded {format_duration(after)} after its due date {iso(due)}",
        {
            "services": [
                {
                    "service_id": sid,
                    "service_kind": svc.service_kind,
                    "due_at": iso(due),
                    "session": svc.sessions_recorded + 1,
                }
            ],
            "threshold": format_duration(after),
            "event_ids": _events(svc.planned_event_id),
        },
    )


@rule("service.overdue", requires=("after",), per_subject=True)
def service_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.overdue"
    if not st.case_open:
        return _clear(rid, "case closed", per_subject=True)
    after = _after(cfg)
    due_dates = ((sid, svc, svc.next_due_at()) for sid, svc in sorted(st.services.items()))
    items = (
        (f"service:{sid}", nd + after, partial(_service_overdue, sid, svc, nd, after))
        for sid, svc, nd in due_dates
        if nd is not None
    )
    return _each(rid, cfg, now, items, "session recorded")


def _missed(sid: str, svc: ServiceTrack, limit: int) -> tuple[str, dict[str, Any]]:
    return (
        f"{svc.service_kind} sessions missed {svc.consecutive_missed} times in a row (threshold {limit})",
        {
            "services": [
                {"service_id": sid, "service_kind": svc.service_kind, "consecutive_missed": svc.consecutive_missed}
            ],
            "threshold": limit,
            "event_ids": svc.missed_event_ids[-limit:],
        },
    )


@rule("service.missed_consecutive", requires=("count",), per_subject=True)
def service_missed_consecutive(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.missed_consecutive"
    if not st.case_open:
        return _clear(rid, "case closed", per_subject=True)
    limit = _count(cfg, 2)
    items = (
        (f"service:{sid}", None, partial(_missed, sid, svc, limit))
        for sid, svc in sorted(st.services.items())
        if svc.consecutive_missed >= limit
    )
    return _each(rid, cfg, now, items, "session attended")


@rule("service.no_psychosocial", requires=("after",))
def service_no_psychosocial(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "service.no_psychosocial"
    if st.status != "Active" or st.registered_at is None:
        return _clear(rid, "case no longer active")
    registered = st.registered_at
    keys = [f"kind:{k}" for k in cfg.service_kinds] + [f"spl:{t}" for t in cfg.spl_types]
    last = max((st.last_attended[k] for k in keys if k in st.last_attended), default=None)
    due = (max(registered, last) if last is not None else registered) + _after(cfg)
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "psychosocial session recorded",
        lambda: (
            f"active case with no psychosocial session for {format_duration(_after(cfg))}",
            {
                "last_psychosocial_session_at": iso(last),
                "registered_at": iso(registered),
                "deadline_at": iso(due),
                "event_ids": _events(st.registered_event_id) if last is None else [],
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
        return _clear(rid, "no risk signal")
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
        return _clear(rid, "case closed")
    registered = st.registered_at
    due = (max(registered, st.last_contact_at) if st.last_contact_at else registered) + _after(cfg)
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "contact with the child recorded",
        lambda: (
            f"no contact with the child for {format_duration(_after(cfg))} (session, follow-up or hearing attended)",
            {
                "last_contact_at": iso(st.last_contact_at),
                "registered_at": iso(registered),
                "deadline_at": iso(due),
                "event_ids": [],
            },
        ),
    )


def _followup(fid: str, planned: date, due: datetime, event_id: str) -> tuple[str, dict[str, Any]]:
    return (
        f"follow-up planned for {planned.isoformat()} not done by its date",
        {
            "followups": [{"followup_id": fid, "planned_date": planned.isoformat()}],
            "deadline_at": iso(due),
            "event_ids": _events(event_id),
        },
    )


def _post_closure(k: int, offset: timedelta, due: datetime, closed_at: datetime) -> tuple[str, dict[str, Any]]:
    return (
        f"post-closure follow-up #{k} ({format_duration(offset)} after closure) not done by {iso(due)}",
        {
            "followups": [{"followup": f"post-closure #{k} ({format_duration(offset)})", "due_at": iso(due)}],
            "closed_at": iso(closed_at),
            "event_ids": [],
        },
    )


@rule("followup.overdue", per_subject=True)
def followup_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    items: list[Late] = []
    for fid, f in sorted(st.followups.items()):
        if f.done:
            continue
        # the planned day ends at midnight in the organisation's time zone (issue 13 item 11)
        due = day_end(f.planned_date, cfg.timezone) + cfg.grace
        items.append((f"followup:{fid}", due, partial(_followup, fid, f.planned_date, due, f.event_id)))
    closed_at = st.closed_at
    if closed_at is not None and not st.case_open:
        for k, offset in enumerate(cfg.schedule_after_closure, start=1):
            if st.followups_done_after_closure < k:
                due = closed_at + offset + cfg.grace
                items.append((f"post-closure:{k}", due, partial(_post_closure, k, offset, due, closed_at)))
    return _each("followup.overdue", cfg, now, items, "follow-up recorded")


# -- reminders before a date (issue 12 item 5)


def _active_lead(due: datetime, now: datetime, leads: tuple[timedelta, ...]) -> timedelta | None:
    """The tightest lead time already reached before ``due`` (None: too early, or the date passed)."""
    if now >= due:
        return None
    reached = [lead for lead in leads if now >= due - lead]
    return min(reached) if reached else None


# a date a reminder rule watches: its key (the subject before the lead), its date, and its words given the lead
Reminder = tuple[str, datetime, Callable[[timedelta], tuple[str, dict[str, Any]]]]


def _reminders(rid: str, cfg: RuleConfig, now: datetime, dates: list[Reminder], clear_reason: str) -> RuleResult:
    """One finding per date and lead time reached (the 3-day reminder is news even after the 10-day one);
    checks at every lead time and at the date itself."""
    items: list[Late] = []
    checks: list[datetime] = []
    for key, due, describe in dates:
        checks += [due - lead for lead in cfg.lead_times] + [due]
        lead = _active_lead(due, now, cfg.lead_times)
        if lead is not None:
            items.append((f"{key}@{format_duration(lead)}", None, partial(describe, lead)))
    result = _each(rid, cfg, now, items, clear_reason)
    return replace(result, next_check=_future(now, *checks))


def _deadline_reminder(
    key: str, what: str, due: datetime, article: str | None, eid: str, lead: timedelta
) -> tuple[str, dict[str, Any]]:
    return (
        f"deadline of {what} in less than {format_duration(lead)} ({iso(due)})",
        {
            "deadline": key,
            "deadline_at": iso(due),
            "lead_time": format_duration(lead),
            "article": article,
            "event_ids": _events(eid),
        },
    )


@rule("legal.deadline_approaching", per_subject=True)
def deadline_approaching(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    dates: list[Reminder] = []
    if st.prosecution_open and st.deadline_at is not None and st.stage:
        key = f"stage:{st.stage}"
        what = f"stage '{st.stage}'"
        dates.append(
            (key, st.deadline_at, partial(_deadline_reminder, key, what, st.deadline_at, None, st.stage_event_id or ""))
        )
    if st.prosecution_open or not st.legal_seen or st.stage == "archived":
        # an archive's elevation window (art. 334.5) runs while the case is archived
        for did, d in sorted(st.deadlines.items()):
            key = f"deadline:{did}"
            dates.append((key, d.due_at, partial(_deadline_reminder, key, d.kind, d.due_at, d.article, d.event_id)))
    return _reminders("legal.deadline_approaching", cfg, now, dates, "deadline met, moved or reached")


def _hearing_reminder(hearing_id: str, h: HearingTrack, lead: timedelta) -> tuple[str, dict[str, Any]]:
    return (
        f"hearing on {iso(h.scheduled_for)}, in less than {format_duration(lead)}: arrange the child's "
        "attendance and psychosocial accompaniment",
        {
            "hearing_id": hearing_id,
            "scheduled_for": iso(h.scheduled_for),
            "lead_time": format_duration(lead),
            "event_ids": [h.event_id],
        },
    )


@rule("legal.hearing_upcoming", per_subject=True)
def hearing_upcoming(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    hearings = sorted(st.hearings.items()) if st.prosecution_open else []
    dates: list[Reminder] = [
        (f"hearing:{hid}", h.scheduled_for, partial(_hearing_reminder, hid, h)) for hid, h in hearings
    ]
    return _reminders("legal.hearing_upcoming", cfg, now, dates, "hearing held, moved or reached")


def _deadline_missed(d: OpenDeadline) -> tuple[str, dict[str, Any]]:
    return (
        f"deadline '{d.kind}' passed on {iso(d.due_at)} with nothing reported"
        + (f" ({d.article})" if d.article else ""),
        {"deadline_kind": d.kind, "deadline_at": iso(d.due_at), "article": d.article, "event_ids": _events(d.event_id)},
    )


@rule("legal.deadline_missed", per_subject=True)
def deadline_missed(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    """A duty deadline from ``deadline_set`` (someone must act by it) passed while still open; a window
    (a right that lapses) only has reminders."""
    items = (
        (f"deadline:{did}", d.due_at + cfg.grace, partial(_deadline_missed, d))
        for did, d in sorted(st.deadlines.items())
        if d.nature == "duty"
    )
    return _each("legal.deadline_missed", cfg, now, items, "deadline met or cancelled")


# -- reintegration (IOM indicators) and harm from the justice process (issue 13 items 13-14)


@rule("reintegration.school_dropout")
def school_dropout(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "reintegration.school_dropout"
    edu = st.reintegration.get("education")
    statuses = set(cfg.statuses or ("dropped_out",))
    if not st.case_open or edu is None or edu.status not in statuses:
        return _clear(rid, "child back in education" if st.case_open else "case closed")
    # from the start of the effective day in the organisation's time zone
    due = day_end(edu.effective_date - timedelta(days=1), cfg.timezone) + cfg.grace
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "child back in education",
        lambda: (
            f"school dropout recorded (effective {edu.effective_date.isoformat()})",
            {"status": edu.status, "effective_date": edu.effective_date.isoformat(), "event_ids": [edu.event_id]},
        ),
    )


@rule("reintegration.placement_review_overdue", requires=("after",))
def placement_review_overdue(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    rid = "reintegration.placement_review_overdue"
    placement = st.reintegration.get("placement")
    if not st.case_open or placement is None:
        return _clear(rid, "case closed" if placement is not None else "no placement recorded")
    due = day_end(placement.effective_date, cfg.timezone) + _after(cfg)
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "placement reviewed",
        lambda: (
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
        return _clear(rid, "reparation paid")
    first = unpaid[0]
    due = first.at + _after(cfg)
    return _when_due(
        rid,
        cfg,
        now,
        due,
        "reparation paid",
        lambda: (
            f"reparation ordered on {iso(first.at)} still unpaid after {format_duration(_after(cfg))}",
            {"ordered_at": iso(first.at), "deadline_at": iso(due), "event_ids": [m.event_id for m in unpaid]},
        ),
    )


def _alone(mark: Mark, window: timedelta) -> tuple[str, dict[str, Any]]:
    return (
        f"the child attended a hearing on {iso(mark.at)} with no psychosocial accompaniment recorded "
        f"within {format_duration(window)}",
        {
            "hearing_id": mark.ref or None,
            "attended_at": iso(mark.at),
            "window": format_duration(window),
            "event_ids": [mark.event_id],
        },
    )


@rule("harm.hearing_without_accompaniment", requires=("after",), per_subject=True)
def hearing_without_accompaniment(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    """The child attended a hearing and no psychosocial session (the policy's service kinds) is recorded
    within ``after`` of it, before or after: raised once ``after`` has passed (a late report clears it)."""
    window = _after(cfg)
    kinds = set(cfg.service_kinds)
    alone = [
        m
        for m in st.attendance
        if m.kind == "present" and not any(s.kind in kinds and abs(s.at - m.at) <= window for s in st.attended_sessions)
    ]
    items = ((f"hearing:{m.ref or m.event_id}", m.at + window, partial(_alone, m, window)) for m in alone)
    return _each("harm.hearing_without_accompaniment", cfg, now, items, "psychosocial accompaniment recorded")


def _measure_expired(measure_id: str, m: MeasureTrack) -> tuple[str, dict[str, Any]]:
    return (
        f"protective measure '{m.measure or measure_id}' expired on {iso(m.expires_at)} with the case still open "
        "and no renewal recorded",
        {
            "measure_id": measure_id,
            "measure": m.measure or None,
            "expires_at": iso(m.expires_at),
            "renewals": m.renewals,
            "event_ids": _events(m.event_id),
        },
    )


_MEASURE_CLEARED = {
    "centinela.legal.protective_measure_renewed": "protective measure renewed",
    "centinela.legal.protective_measure_ended": "protective measure ended by the court",
}


@rule("harm.protective_measure_expired", per_subject=True)
def protective_measure_expired(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    """A protective measure's ``expires_at`` (plus ``grace``) passed while the case is open (intake status
    and prosecution) and neither a renewal nor its end was recorded. One alert per measure; a renewed
    measure that expires again opens a new episode."""
    rid = "harm.protective_measure_expired"
    if not st.case_open:
        return _clear(rid, "case closed", per_subject=True)
    if st.legal_seen and not st.prosecution_open:
        return _clear(rid, "prosecution ended", per_subject=True)
    items = (
        (f"measure:{mid}", m.expires_at + cfg.grace, partial(_measure_expired, mid, m))
        for mid, m in sorted(st.protective_measures.items())
        if m.active and m.expires_at is not None
    )
    reason = _MEASURE_CLEARED.get(st.last_event_type or "", "protective measure renewed or ended")
    return _each(rid, cfg, now, items, reason)


@rule("harm.second_testimony", requires=("count",), per_signal=True)
def second_testimony(st: CaseState, now: datetime, cfg: RuleConfig) -> RuleResult:
    """The child testified again after the single Cámara Gesell interview: every testimony taken after the
    first one in a Cámara Gesell (by when it was taken), from the ``count``-th on, is its own alert. The harm
    is done and no fact undoes it, so a person resolves each alert (like ``risk.revictimisation``)."""
    rid = "harm.second_testimony"
    gesell = next((m for m in st.testimonies if m.kind == "camara_gesell"), None)
    after = [m for m in st.testimonies if gesell is not None and m.at > gesell.at][_count(cfg, 1) - 1 :]
    if gesell is None or not after:
        return _clear(rid, "no testimony after the Cámara Gesell interview")
    per_signal = {
        m.event_id: Finding(
            rid,
            cfg.severity,
            f"the child testified again ({'in a Cámara Gesell' if m.kind == 'camara_gesell' else m.kind}) on "
            f"{iso(m.at)}, after the single Cámara Gesell interview of {iso(gesell.at)}",
            {
                "testimony_at": iso(m.at),
                "method": m.kind,
                "camara_gesell_at": iso(gesell.at),
                "testimonies_after": n,
                "threshold": _count(cfg, 1),
                "event_ids": [gesell.event_id, m.event_id],
            },
        )
        for n, m in enumerate(after, start=_count(cfg, 1))
    }
    return RuleResult(rid, per_signal[after[-1].event_id], signals=len(per_signal), signal_findings=per_signal)


# Derived from the registry above (the policy loader and the episode logic read these).
RULE_IDS: tuple[str, ...] = tuple(RULES)
REQUIRED_THRESHOLDS: dict[str, tuple[str, ...]] = dict(_REQUIRES)
PER_SIGNAL_RULES: frozenset[str] = frozenset(_PER_SIGNAL)
PER_SUBJECT_RULES: frozenset[str] = frozenset(_PER_SUBJECT)
