"""A fake-clock harness around ``engine.step`` for the rule boundary tests.

Input goes in as real catalogue payloads wrapped in a CloudEvent and decoded with the shared codec
(exactly what the faust agent sees); output comes back decoded too, so every assertion reads the
published AlertRaised / AlertResolved facts, not internal state.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import yaml

from services.processor.domain.engine import Step, alert_id, step
from services.processor.domain.policy import DEFAULT_POLICY_FILE, RULE_IDS, Policy, load_policy, parse_policy
from services.processor.domain.state import CaseState
from shared.events import Event, EventPayload, decode, encode, new_event
from shared.events import case as ce
from shared.events import legal as le
from shared.events.alerts import AlertRaised, AlertResolved, alert_id_for

T0 = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
US = timedelta(microseconds=1)
DAY = timedelta(days=1)

DEFAULT = load_policy(DEFAULT_POLICY_FILE)


def policy_doc() -> dict[str, Any]:
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return copy.deepcopy(doc)


def edited(rule_id: str, **changes: Any) -> Policy:
    """The default policy with some knobs of one rule changed."""
    doc = policy_doc()
    doc["rules"][rule_id].update(changes)
    return parse_policy(doc, source="<edited>")


def only(rule_id: str, **changes: Any) -> Policy:
    """The default policy with every other rule disabled, so ``next_due`` is this rule's alone."""
    doc = policy_doc()
    for rid in RULE_IDS:
        if rid != rule_id:
            doc["rules"][rid]["enabled"] = False
    doc["rules"][rule_id].update(changes)
    return parse_policy(doc, source="<only>")


def wrap(payload: EventPayload, *, event_id: str | None = None, at: datetime | None = None) -> Event:
    """Envelope + wire round trip, as the processor receives it."""
    return decode(encode(new_event(payload, event_id=event_id, time=at or T0)))


@dataclass
class Out:
    step: Step
    events: list[Event]

    @property
    def next_due(self) -> datetime | None:
        return self.step.next_due

    def raised(self, rule: str) -> list[AlertRaised]:
        return [e.payload for e in self.events if isinstance(e.payload, AlertRaised) and e.payload.rule == rule]

    def resolved(self, rule: str) -> list[AlertResolved]:
        return [e.payload for e in self.events if isinstance(e.payload, AlertResolved) and e.payload.rule == rule]

    def of(self, rule: str) -> list[Event]:
        return [e for e in self.events if getattr(e.payload, "rule", None) == rule]


class Case:
    """One case driven through ``engine.step`` with explicit ``now`` values (no wall clock anywhere)."""

    def __init__(self, policy: Policy = DEFAULT) -> None:
        self.case_id = f"case-{uuid.uuid4().hex[:12]}"
        self.policy = policy
        self.state: CaseState | None = None
        self._n = 0

    # -- driving

    def feed(self, item: EventPayload | Event, now: datetime) -> Out:
        event = item if isinstance(item, Event) else wrap(item, at=now)
        result = step(self.state, event, now, self.policy)
        self.state = result.state
        return self._out(result)

    def tick(self, now: datetime) -> Out:
        result = step(self.state, None, now, self.policy, case_id=self.case_id)
        self.state = result.state
        return self._out(result)

    @staticmethod
    def _out(result: Step) -> Out:
        # decode what would be published: proves the emitted envelopes are valid wire facts
        return Out(result, [decode(encode(e)) for e in result.emissions])

    # -- assertions

    def assert_raised(self, out: Out, rule: str, episode: int, now: datetime) -> AlertRaised:
        raised = out.raised(rule)
        assert len(raised) == 1, f"expected one {rule} raised, got {out.of(rule)}"
        assert not out.resolved(rule)
        p = raised[0]
        assert p.case_id == self.case_id
        assert p.episode == episode
        # (case, rule, subject, episode): a per-subject rule names its subject in the evidence
        assert p.alert_id == alert_id(self.case_id, rule, p.evidence.get("subject"), episode)
        assert p.severity == self.policy.rule(rule).severity
        assert p.raised_at == now
        assert p.summary
        env = next(e.envelope for e in out.events if e.payload is p)
        assert env.type == "centinela.alert.raised"
        assert env.subject == self.case_id
        return p

    def assert_resolved(self, out: Out, rule: str, episode: int, now: datetime, reason: str | None = None) -> str:
        resolved = out.resolved(rule)
        assert len(resolved) == 1, f"expected one {rule} resolved, got {out.of(rule)}"
        assert not out.raised(rule)
        p = resolved[0]
        assert p.auto is True
        assert p.reason.strip()
        if reason is not None:
            assert p.reason == reason
        assert p.episode == episode
        assert p.alert_id in {alert_id_for(self.case_id, rule, episode)} | self.subject_ids(rule, episode)
        assert p.severity == self.policy.rule(rule).severity
        assert p.resolved_at == now
        return p.reason

    @staticmethod
    def assert_quiet(out: Out, rule: str) -> None:
        """No alert of ``rule`` raised, resolved or escalated; a ``centinela.alert.updated`` (the open
        alert's evidence moved on, issue 18 item 2) is not a lifecycle change and is checked apart."""
        lifecycle = [e for e in out.of(rule) if e.type != "centinela.alert.updated"]
        assert lifecycle == [], f"{rule} should have emitted nothing, got {lifecycle}"

    @staticmethod
    def updated(out: Out, rule: str) -> list[Any]:
        return [e.payload for e in out.of(rule) if e.type == "centinela.alert.updated"]

    def subject_ids(self, rule: str, episode: int) -> set[str]:
        assert self.state is not None
        return {
            alert_id(self.case_id, rule, key.split("#", 1)[1], episode)
            for key in self.state.alerts
            if key.startswith(rule + "#")
        }

    def is_open(self, rule: str, subject: str | None = None) -> bool:
        """Whether an alert of ``rule`` is open (for ``subject``, or any subject of a per-subject rule)."""
        assert self.state is not None
        if subject is not None:
            track = self.state.alerts.get(f"{rule}#{subject}")
            return bool(track and track.open)
        tracks = [t for k, t in self.state.alerts.items() if k == rule or k.startswith(rule + "#")]
        return any(t.open for t in tracks)

    # -- payloads (pseudonymous ids only, like the real producers)

    def _uid(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n}"

    def registered(
        self, at: datetime = T0, status: str = "Active", advocate_id: str | None = None
    ) -> ce.CaseRegistered:
        # no advocate by default: the organisation's own advocate counts as representation (issue 13 item 10)
        return ce.CaseRegistered(
            case_id=self.case_id, org_id="org-1", advocate_id=advocate_id, status=status, registered_at=at
        )  # type: ignore[arg-type]

    def status_changed(self, previous: str, status: str, at: datetime) -> ce.CaseStatusChanged:
        return ce.CaseStatusChanged(case_id=self.case_id, previous_status=previous, status=status, changed_at=at)  # type: ignore[arg-type]

    def closed(self, at: datetime, status: str = "Closed") -> ce.CaseClosed:
        return ce.CaseClosed(case_id=self.case_id, status=status, closed_at=at)  # type: ignore[arg-type]

    def service_planned(
        self,
        service_id: str,
        first_due: datetime,
        *,
        kind: str = "health_checkup",
        spl_type: str = "Health",
        interval_days: int | None = 7,
        sessions_planned: int | None = None,
    ) -> ce.ServicePlanned:
        return ce.ServicePlanned(
            case_id=self.case_id,
            service_id=service_id,
            spl_type=spl_type,
            service_kind=kind,
            provider_org_id="org-2",
            first_due_at=first_due,
            interval_days=interval_days,
            sessions_planned=sessions_planned,
            planned_at=first_due - 3 * DAY,
        )

    def session(
        self,
        service_id: str,
        outcome: str,
        at: datetime,
        *,
        kind: str = "health_checkup",
        session_id: str | None = None,
    ) -> ce.SessionRecorded:
        return ce.SessionRecorded(
            case_id=self.case_id,
            service_id=service_id,
            session_id=session_id or self._uid("ses"),
            service_kind=kind,
            outcome=outcome,  # type: ignore[arg-type]
            occurred_at=at,
            recorded_at=at,
        )

    def risk_flag(self, at: datetime, *, severity: str = "high", flag_id: str | None = None) -> ce.RiskFlagged:
        return ce.RiskFlagged(
            case_id=self.case_id,
            flag_id=flag_id or self._uid("flag"),
            kind="contact_with_trafficker",
            severity=severity,  # type: ignore[arg-type]
            raised_at=at,
        )

    def reregistered(self, at: datetime) -> ce.PersonReregistered:
        return ce.PersonReregistered(
            case_id=self.case_id, person_ref="pr_0f3a9c", previous_case_ids=["case-older"], detected_at=at
        )

    def followup_planned(self, followup_id: str, planned: date, at: datetime = T0) -> ce.FollowUpPlanned:
        return ce.FollowUpPlanned(case_id=self.case_id, followup_id=followup_id, planned_date=planned, planned_at=at)

    def followup_recorded(self, followup_id: str, done: date, at: datetime) -> ce.FollowUpRecorded:
        return ce.FollowUpRecorded(
            case_id=self.case_id, followup_id=followup_id, done_date=done, outcome="child well", recorded_at=at
        )

    def _legal(self, at: datetime) -> dict[str, Any]:
        return {"case_id": self.case_id, "source_system": "sgf", "update_id": self._uid("upd"), "occurred_at": at}

    def stage_changed(
        self, stage: str, at: datetime, deadline: datetime | None = None, previous: str | None = None
    ) -> le.StageChanged:
        return le.StageChanged(
            **self._legal(at), stage=stage, previous_stage=previous, stage_started_at=at, deadline_at=deadline
        )

    def hearing_scheduled(self, hearing_id: str, when: datetime, at: datetime) -> le.HearingScheduled:
        return le.HearingScheduled(**self._legal(at), hearing_id=hearing_id, scheduled_for=when)

    def hearing_held(self, hearing_id: str, at: datetime) -> le.HearingHeld:
        return le.HearingHeld(**self._legal(at), hearing_id=hearing_id)

    def hearing_postponed(
        self, hearing_id: str, count: int, at: datetime, *, new_date: datetime | None = None, stage: str | None = None
    ) -> le.HearingPostponed:
        return le.HearingPostponed(
            **self._legal(at),
            hearing_id=hearing_id,
            reason="judge unavailable",
            new_date=new_date,
            postponements_in_stage=count,
            stage=stage,
        )

    def victim_attended(self, at: datetime, hearing_id: str | None = None) -> le.VictimAttended:
        return le.VictimAttended(**self._legal(at), hearing_id=hearing_id)

    def victim_absent(self, at: datetime, hearing_id: str | None = None) -> le.VictimAbsent:
        return le.VictimAbsent(**self._legal(at), hearing_id=hearing_id)

    def victim_notified(self, at: datetime) -> le.VictimNotified:
        return le.VictimNotified(**self._legal(at), about="archive")

    def representation_assigned(self, at: datetime) -> le.RepresentationAssigned:
        return le.RepresentationAssigned(**self._legal(at), representative_ref="rep-3")

    def verdict_issued(self, at: datetime) -> le.VerdictIssued:
        return le.VerdictIssued(**self._legal(at), stage="verdict", outcome="conviction")

    def archived(self, at: datetime) -> le.CaseArchived:
        return le.CaseArchived(**self._legal(at), stage="archived", reason="insufficient evidence")

    def reopened(self, at: datetime, stage: str = "preliminary_investigation") -> le.CaseReopened:
        return le.CaseReopened(**self._legal(at), stage=stage, reason="new evidence")  # type: ignore[arg-type]


def registered_with(
    due: datetime, *feeds: Callable[[Case], EventPayload], policy: Policy | None = None
) -> Callable[..., tuple[Case, datetime]]:
    """A setup for :func:`assert_boundary`: a case registered at T0 under ``policy`` (default: the shipped
    one), then each of ``feeds`` fed at T0; the threshold is ``due``, plus ``shift`` when a policy moved it."""

    def setup(policy_override: Policy | None = None, shift: timedelta = timedelta(0)) -> tuple[Case, datetime]:
        c = Case(policy_override or policy or DEFAULT)
        c.feed(c.registered(T0), T0)
        for make in feeds:
            c.feed(make(c), T0)
        return c, due + shift

    return setup


def assert_boundary(setup: Any, rule: str) -> None:
    """(a) just before: nothing; (b) at the threshold: raised — the code fires at ``now >= due``, so the
    threshold instant is inclusive; (c) first looked at just after: raised once, and re-evaluating
    later raises nothing new while the same alert stays open."""
    c, due = setup()
    c.assert_quiet(c.tick(due - US), rule)
    c.assert_raised(c.tick(due), rule, 1, due)
    c.assert_quiet(c.tick(due + US), rule)
    assert c.is_open(rule)

    c2, due2 = setup()
    c2.assert_quiet(c2.tick(due2 - US), rule)
    c2.assert_raised(c2.tick(due2 + US), rule, 1, due2 + US)
    for later in (due2 + 2 * US, due2 + DAY, due2 + 200 * DAY):
        c2.assert_quiet(c2.tick(later), rule)
    assert c2.is_open(rule)
    assert c2.state is not None
    assert [t.episode for k, t in c2.state.alerts.items() if k == rule or k.startswith(rule + "#")] == [1]


def assert_duplicate_ignored(c: Case, event: Event, now: datetime) -> None:
    """(f) the same event id again: not applied, nothing emitted, state unchanged."""
    assert c.state is not None
    before = c.state.to_json()
    out = c.feed(event, now)
    assert out.step.applied is False
    assert out.events == []
    assert c.state.to_json() == before


def assert_clears_and_recurs(
    c: Case, rule: str, due: datetime, clearing: EventPayload | Event, at: datetime, every: timedelta, **kw: Any
) -> None:
    """Raised at ``due``; ``clearing`` fed at ``at`` resolves it (``reason=...`` checks the reason); the
    condition back ``every`` later opens episode 2, with its own alert id. With ``replayed=True`` the
    clearing event is then replayed: ignored, the second episode stays open."""
    replayed = kw.pop("replayed", False)
    c.assert_raised(c.tick(due), rule, 1, due)
    c.assert_resolved(c.feed(clearing, at), rule, 1, at, **kw)
    c.assert_quiet(c.tick(at + every - US), rule)
    again = c.assert_raised(c.tick(at + every), rule, 2, at + every)
    assert again.alert_id != alert_id_for(c.case_id, rule, 1)
    if replayed:
        assert isinstance(clearing, Event)
        assert_duplicate_ignored(c, clearing, at + every + DAY)
        assert c.is_open(rule)
