"""A prosecution's timeline as a pure fold over its court updates, ordered by ``occurred_at``, and the
normalised facts each accepted update publishes on ``legal-events`` (:func:`facts_for`, :func:`envelopes`).

Updates arrive late and out of order, so the current state is never patched in place: it is
recomputed by replaying every accepted update in court order. A new update is accepted when the
replay with it inserted at its place is legal for it *and* for every update already accepted
after it; a late update therefore can never move the current stage backwards or invalidate what
the court reported later (only an explicit ``case_reopened`` brings a case out of ``archived``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.legal.domain.deadlines import Deadline, DeadlinePolicy
from services.legal.domain.errors import IllegalUpdate
from services.legal.domain.stages import OPEN, PROCESS_STAGES, Complexity, Stage, transition_basis, transition_error
from services.legal.domain.updates import CourtUpdate
from shared.events import CloudEvent, new_event
from shared.events import legal as ev

__all__ = [
    "Conflict",
    "IllegalUpdate",
    "Integration",
    "Recorded",
    "TimelineState",
    "envelopes",
    "event_id",
    "facts_for",
    "integrate",
    "replay",
]


@dataclass(frozen=True)
class Recorded:
    """An accepted update and when centinela received it (tie-break for equal ``occurred_at``).

    ``recorded_by`` is its provenance: ``{"type": "system", "source_system": ...}`` for an
    integrator (also what an entry without it means) or ``{"type": "person", "sub": ..., "role": ...}``
    for an advocate or supervisor. ``reconciles`` is the key of the person-recorded entry this
    integrator update confirms: the fact was already applied, so the fold skips it.
    """

    update: CourtUpdate
    received_at: datetime
    path: str = "rest"
    recorded_by: dict[str, str] | None = None
    reconciles: str | None = None

    @property
    def provenance(self) -> dict[str, str]:
        return self.recorded_by or {"type": "system", "source_system": self.update.source_system}

    @property
    def by_person(self) -> bool:
        return self.provenance.get("type") == "person"

    @property
    def key(self) -> str:
        return self.update.key

    @property
    def order(self) -> tuple[datetime, datetime, str]:
        return (self.update.occurred_at, self.received_at, self.key)


@dataclass
class Hearing:
    hearing_id: str
    scheduled_for: datetime | None = None
    status: str = "scheduled"
    held_at: datetime | None = None
    stage: Stage | None = None
    postponements: list[dict[str, Any]] = field(default_factory=list)
    victim: str | None = None


@dataclass(frozen=True)
class TrackedDeadline:
    """A deadline that is not a stage's (appeal window, elevation, trial resumption...), as the fold knows it.

    ``status``: open; met (the update that answers it came, ``late`` when after ``due_at``); or
    cancelled (the case was archived, reopened or became final before it mattered). Whether an open
    one has lapsed is wall-clock time: the processor decides, from ``due_at``.
    """

    deadline_id: str
    kind: str
    opened_at: datetime
    due_at: datetime
    article: str | None
    counting: str
    nature: str
    opened_by: str  # update_id of the update that opened it
    status: str = "open"
    closed_at: datetime | None = None
    closed_by: str | None = None
    late: bool = False


@dataclass
class TimelineState:
    stage: Stage | None = None
    stage_started_at: datetime | None = None
    complexity: Complexity = "ordinary"
    deadline: Deadline | None = None
    stage_before_archive: Stage | None = None
    postponements_in_stage: int = 0
    last_activity_at: datetime | None = None
    stage_history: list[dict[str, Any]] = field(default_factory=list)
    hearings: dict[str, Hearing] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    attendance: list[dict[str, Any]] = field(default_factory=list)
    representation: list[dict[str, Any]] = field(default_factory=list)
    measures: list[dict[str, Any]] = field(default_factory=list)
    # protective measures by measure_id: granted, renewed (new expires_at), ended
    protective_measures: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the child's testimonies (camara_gesell or other), in court order
    testimonies: list[dict[str, Any]] = field(default_factory=list)
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    reparations_ordered: list[dict[str, Any]] = field(default_factory=list)
    reparations_paid: list[dict[str, Any]] = field(default_factory=list)
    appeals: list[dict[str, Any]] = field(default_factory=list)
    archives: list[dict[str, Any]] = field(default_factory=list)
    reopenings: list[dict[str, Any]] = field(default_factory=list)
    extensions: list[dict[str, Any]] = field(default_factory=list)
    stage_extensions: list[dict[str, Any]] = field(default_factory=list)  # of the current stage only
    complexity_declarations: list[dict[str, Any]] = field(default_factory=list)
    entries: list[Recorded] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    postponement_counts: dict[str, int] = field(default_factory=dict)
    confirmations: dict[str, Recorded] = field(default_factory=dict)  # person entry key -> integrator record
    # the intermediate stage's pronouncement (art. 344.1) was made: the stage's term is met
    stage_met: bool = False
    deadlines: dict[str, TrackedDeadline] = field(default_factory=dict)
    elevations: list[dict[str, Any]] = field(default_factory=list)
    pronouncements: list[dict[str, Any]] = field(default_factory=list)
    suspensions: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    opportunity: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.stage is None or self.stage in OPEN

    def clone(self) -> TimelineState:
        """A copy that an :func:`apply` on it cannot change (the records themselves are immutable)."""
        copied: dict[str, Any] = {
            name: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
            for name, v in vars(self).items()
        }
        copied["hearings"] = {k: replace(h, postponements=list(h.postponements)) for k, h in self.hearings.items()}
        return TimelineState(**copied)

    @property
    def stage_marker(self) -> tuple[Stage | None, datetime | None, Complexity, datetime | None]:
        # the deadline too: an extension or a complexity declaration moves it within the stage
        return (
            self.stage,
            self.stage_started_at,
            self.complexity,
            self.deadline.deadline_at if self.deadline else None,
        )


def _move(
    state: TimelineState, stage: Stage, rec: Recorded, *, imported: bool = False, basis: str | None = None
) -> None:
    entry: dict[str, Any] = {
        "stage": stage,
        "started_at": rec.update.occurred_at,
        "source_system": rec.update.source_system,
        "update_id": rec.update.update_id,
    }
    basis = basis or transition_basis(state.stage, stage)
    if basis:
        entry["basis"] = basis
    if imported:
        entry["imported"] = True
    state.stage = stage
    state.stage_started_at = rec.update.occurred_at
    state.postponements_in_stage = 0
    state.stage_extensions = []
    state.stage_met = False
    state.stage_history.append(entry)
    if stage in ("final", "archived"):
        _close(state, None, "cancelled", rec)  # nothing left to answer once the case is closed


# -- deadlines that are not a stage's
def _open(state: TimelineState, kind: str, rec: Recorded, policy: DeadlinePolicy | None) -> None:
    term = policy.other_term(kind, state.complexity) if policy is not None else None
    if policy is None or term is None:
        return  # not configured: no deadline
    at = rec.update.occurred_at
    deadline_id = f"{kind}:{rec.key}"
    state.deadlines[deadline_id] = TrackedDeadline(
        deadline_id=deadline_id,
        kind=kind,
        opened_at=at,
        due_at=policy.due(at, term.term, term.counting),
        article=term.article,
        counting=term.counting,
        nature=term.nature,
        opened_by=rec.update.update_id,
    )


def _open_of(state: TimelineState, *kinds: str) -> list[TrackedDeadline]:
    found = [d for d in state.deadlines.values() if d.status == "open" and d.kind in kinds]
    return sorted(found, key=lambda d: (d.opened_at, d.deadline_id))


def _close(
    state: TimelineState, kinds: tuple[str, ...] | None, status: str, rec: Recorded, *, first_only: bool = False
) -> None:
    targets = (
        _open_of(state, *kinds) if kinds is not None else _open_of(state, *{d.kind for d in state.deadlines.values()})
    )
    at = rec.update.occurred_at
    for d in targets[:1] if first_only else targets:
        state.deadlines[d.deadline_id] = replace(
            d, status=status, closed_at=at, closed_by=rec.update.update_id, late=status == "met" and at >= d.due_at
        )


def _archive(state: TimelineState, rec: Recorded, disposition: str, reason: str, policy: DeadlinePolicy | None) -> None:
    if state.stage == "final":
        raise IllegalUpdate("kind: a final case (res judicata) cannot be archived")
    if state.stage == "archived":
        raise IllegalUpdate("kind: the case is already archived")
    state.stage_before_archive = state.stage
    _move(state, "archived", rec)
    state.archives.append(
        {
            "occurred_at": rec.update.occurred_at,
            "reason": reason,
            "from_stage": state.stage_before_archive,
            "disposition": disposition,
        }
    )
    if disposition in ("archive", "provisional_reserve"):
        _open(state, "archive_elevation", rec, policy)  # art. 334.5 covers both dispositions


PRELIMINARY: frozenset[Stage] = frozenset({"complaint_filed", "preliminary_investigation"})
BEFORE_ACCUSATION: frozenset[Stage] = frozenset({"preparatory_investigation", "intermediate_stage"})


def current_deadline(state: TimelineState, policy: DeadlinePolicy) -> Deadline | None:
    """The deadline of the current stage: the statutory term, moved by each extension granted in it."""
    if state.stage not in OPEN or state.stage_met:
        return None
    statutory = policy.deadline(state.stage, state.complexity, state.stage_started_at)
    deadline = statutory
    for ext in state.stage_extensions:
        if ext.get("new_deadline") is not None:
            at: datetime = ext["new_deadline"]
        elif deadline is not None:
            term = policy.term_for(state.stage, state.complexity)
            at = policy.calendar.extend(deadline.deadline_at, ext["extra_days"], term.counting if term else "calendar")
        else:
            continue
        longest = statutory.extended_deadline_at if statutory else None
        deadline = Deadline(
            deadline_at=at, extended_deadline_at=longest if longest and longest > at else None, basis=ext["legal_basis"]
        )
    return deadline


def _check_extension(state: TimelineState, u: Any, policy: DeadlinePolicy | None) -> None:
    if state.stage is None or state.stage not in OPEN:
        raise IllegalUpdate(f"kind: deadline_extended needs an open stage (the case is {state.stage or 'not started'})")
    if policy is None:
        return
    current = current_deadline(state, policy)
    if current is None:
        if u.new_deadline is None:
            raise IllegalUpdate(f"extra_days: {state.stage} has no deadline to extend; give new_deadline instead")
        return
    term = policy.term_for(state.stage, state.complexity)
    counting = term.counting if term is not None else "calendar"
    at = (
        u.new_deadline
        if u.new_deadline is not None
        else policy.calendar.extend(current.deadline_at, u.extra_days, counting)
    )
    if at <= current.deadline_at:
        raise IllegalUpdate("new_deadline: an extension must end after the deadline it extends")
    if term is not None and term.extension is not None and state.stage_started_at is not None:
        longest = policy.longest(state.stage, state.complexity, state.stage_started_at)
        if longest is not None and at > longest:
            raise IllegalUpdate(
                f"new_deadline: beyond the longest term the law allows in {state.stage} for a {state.complexity} case "
                f"({term.article or 'deadlines file'}: {term.describe()})"
            )


def _hearing(state: TimelineState, hearing_id: str) -> Hearing:
    if hearing_id not in state.hearings:
        # Held / postponed before the schedule arrived: integrators send what they know, in any order.
        state.hearings[hearing_id] = Hearing(hearing_id=hearing_id, stage=state.stage)
    return state.hearings[hearing_id]


def _held(state: TimelineState, hearing_id: str) -> bool:
    hearing = state.hearings.get(hearing_id)
    return hearing is not None and hearing.status == "held"


def _no_hearings_when_closed(state: TimelineState, kind: str) -> None:
    if state.stage in ("archived", "final"):
        raise IllegalUpdate(f"kind: {kind} is not possible while the case is {state.stage}")


def apply(state: TimelineState, rec: Recorded, policy: DeadlinePolicy | None = None) -> None:
    """Apply one update in court order.

    Every check runs before the first change, so an :class:`IllegalUpdate` leaves ``state`` as it was.
    """
    u = rec.update
    at = u.occurred_at
    kind = u.kind
    if u.kind == "stage_changed":
        if u.stage == state.stage:
            if u.complexity is None or u.complexity == state.complexity:
                raise IllegalUpdate(f"stage: the case is already in {u.stage}")
            state.complexity = u.complexity  # reclassified (e.g. declared complex): same stage, new term
        else:
            imported = bool(u.imported) and state.stage is None
            error = transition_error(state.stage, u.stage, imported=imported)
            if error:
                raise IllegalUpdate(error)
            _move(state, u.stage, rec, imported=imported)
            if u.complexity is not None:
                state.complexity = u.complexity
    elif u.kind == "deadline_extended":
        _check_extension(state, u, policy)
        extension = {
            "occurred_at": at,
            "stage": state.stage,
            "granted_by": u.granted_by,
            "legal_basis": u.legal_basis,
            "new_deadline": u.new_deadline,
            "extra_days": u.extra_days,
        }
        state.stage_extensions.append(extension)
        state.extensions.append(extension)
    elif u.kind == "complexity_declared":
        if state.stage is None or state.stage not in OPEN:
            raise IllegalUpdate(
                f"kind: complexity_declared needs an open stage (the case is {state.stage or 'not started'})"
            )
        if u.complexity == state.complexity:
            raise IllegalUpdate(f"complexity: the case is already {u.complexity}")
        state.complexity = u.complexity
        state.complexity_declarations.append(
            {"occurred_at": at, "complexity": u.complexity, "legal_basis": u.legal_basis, "stage": state.stage}
        )
    elif u.kind == "case_archived":
        _archive(state, rec, "archive", u.reason, policy)
    elif u.kind == "provisional_reserve":
        if state.stage not in PRELIMINARY:
            raise IllegalUpdate(
                f"kind: provisional_reserve is ordered during the preliminary inquiries (CPP art. 334.4); "
                f"the case is {state.stage or 'not started'}"
            )
        _archive(state, rec, "provisional_reserve", u.reason, policy)
    elif u.kind == "principio_de_oportunidad":
        accused = any(
            p["decision"] == "accusation"
            for p in state.pronouncements
            if p["stage_started_at"] == state.stage_started_at
        )
        if state.stage in PRELIMINARY:
            _archive(state, rec, "principio_de_oportunidad", "principio_de_oportunidad", policy)
            outcome = "abstention"
        elif state.stage in BEFORE_ACCUSATION and not accused:
            _move(state, "final", rec, basis="principio de oportunidad, CPP art. 2.7 (sobreseimiento)")
            outcome = "dismissal"
        else:
            raise IllegalUpdate(
                "kind: principio_de_oportunidad applies until the accusation is filed (CPP art. 2.7); "
                f"the case is {state.stage or 'not started'}{' and accused' if accused else ''}"
            )
        state.opportunity.append({"occurred_at": at, "outcome": outcome, "legal_basis": u.legal_basis})
    elif u.kind == "elevation_requested":
        last = state.archives[-1] if state.archives else None
        if (
            state.stage != "archived"
            or last is None
            or last.get("disposition") not in ("archive", "provisional_reserve")
        ):
            raise IllegalUpdate("kind: elevation_requested needs an archive or provisional reserve (CPP art. 334.5)")
        if any(e["requested_at"] >= last["occurred_at"] for e in state.elevations):
            raise IllegalUpdate("kind: the elevation of this archive was already requested")
        windows = _open_of(state, "archive_elevation")
        late = bool(windows) and at >= windows[-1].due_at
        _close(state, ("archive_elevation",), "met", rec)
        state.elevations.append({"requested_at": at, "late": late, "decided_at": None, "outcome": None})
        _open(state, "elevation_decision", rec, policy)
    elif u.kind == "elevation_decided":
        pending = [i for i, e in enumerate(state.elevations) if e["outcome"] is None]
        if state.stage != "archived" or not pending:
            raise IllegalUpdate(
                "kind: elevation_decided needs an elevation requested and not yet decided (CPP art. 334.6)"
            )
        _close(state, ("elevation_decision",), "met", rec)
        # a new dict, never a change in place: clone() shares the entries with the state before
        state.elevations[pending[-1]] = {**state.elevations[pending[-1]], "decided_at": at, "outcome": u.outcome}
        if u.outcome == "formalise":
            _move(state, "preparatory_investigation", rec, basis="fiscal superior, CPP art. 334.6")
        elif u.outcome == "continue_investigation":
            _move(state, "preliminary_investigation", rec, basis="fiscal superior, CPP art. 334.6")
    elif u.kind in ("accusation_filed", "dismissal_requested"):
        if state.stage != "intermediate_stage":
            raise IllegalUpdate(
                f"kind: {u.kind} is the prosecutor's pronouncement of the intermediate stage (CPP art. 344.1); "
                f"the case is {state.stage or 'not started'}"
            )
        if state.stage_met:
            raise IllegalUpdate("kind: the prosecutor already pronounced in this intermediate stage")
        state.stage_met = True
        decision = "accusation" if u.kind == "accusation_filed" else "dismissal"
        state.pronouncements.append(
            {"occurred_at": at, "decision": decision, "stage_started_at": state.stage_started_at}
        )
        if decision == "accusation":
            _open(state, "accusation_observations", rec, policy)
    elif u.kind == "trial_suspended":
        if state.stage != "trial":
            raise IllegalUpdate(f"kind: trial_suspended needs a trial (the case is {state.stage or 'not started'})")
        if state.suspensions and state.suspensions[-1]["resumed_at"] is None:
            raise IllegalUpdate("kind: the trial is already suspended; record trial_resumed first")
        state.suspensions.append({"suspended_at": at, "reason": u.reason, "resumed_at": None})
        _open(state, "trial_resumption", rec, policy)
    elif u.kind == "trial_resumed":
        if state.stage != "trial" or not state.suspensions or state.suspensions[-1]["resumed_at"] is not None:
            raise IllegalUpdate("kind: trial_resumed needs a suspended trial")
        _resume(state, rec)
    elif u.kind == "order_issued":
        if state.stage is None or state.stage not in OPEN:
            raise IllegalUpdate(f"kind: order_issued needs an open case (the case is {state.stage or 'not started'})")
        state.orders.append({"occurred_at": at, "order": u.order})
        _open(state, "appeal_order", rec, policy)
    elif u.kind == "case_reopened":
        if state.stage != "archived":
            raise IllegalUpdate("kind: case_reopened needs an archived case")
        target: Stage = u.stage or state.stage_before_archive or "complaint_filed"
        if target == "final":
            raise IllegalUpdate("stage: a case cannot be reopened into final")
        _close(state, ("archive_elevation", "elevation_decision"), "cancelled", rec)
        _move(state, target, rec)
        state.reopenings.append({"occurred_at": at, "reason": u.reason, "stage": target})
    elif u.kind == "verdict_issued":
        if state.stage in ("trial", "preparatory_investigation"):  # the latter: terminación anticipada
            if state.suspensions and state.suspensions[-1]["resumed_at"] is None:
                _resume(state, rec)
            _move(state, "verdict", rec)
            _open(state, "appeal_sentence", rec, policy)
        elif state.stage == "appeal":
            _open(state, "cassation", rec, policy)  # the appeal court's sentence (art. 414.1.a)
        elif state.stage != "verdict":
            raise IllegalUpdate(
                f"kind: verdict_issued needs a trial, or a preparatory investigation ended by terminación "
                f"anticipada (the case is {state.stage or 'not started'})"
            )
        state.verdicts.append({"occurred_at": at, "outcome": u.outcome, "stage": state.stage})
    elif u.kind == "appeal_filed" and u.against == "order":
        if state.stage is None or state.stage not in OPEN:
            raise IllegalUpdate(
                f"against: an order's appeal needs an open case (the case is {state.stage or 'not started'})"
            )
        _close(state, ("appeal_order",), "met", rec, first_only=True)
        state.appeals.append({"occurred_at": at, "against": "order"})
    elif u.kind == "appeal_filed":
        if state.stage == "verdict":
            _close(state, ("appeal_sentence",), "met", rec)
            _move(state, "appeal", rec)
        elif state.stage == "appeal":
            _close(state, ("cassation",), "met", rec)
        else:
            raise IllegalUpdate(f"kind: appeal_filed needs a verdict (the case is {state.stage or 'not started'})")
        state.appeals.append({"occurred_at": at, "against": "sentence"})
    elif u.kind == "hearing_scheduled":
        _no_hearings_when_closed(state, kind)
        if _held(state, u.hearing_id):
            raise IllegalUpdate("hearing_id: this hearing was already held")
        hearing = _hearing(state, u.hearing_id)
        hearing.scheduled_for = u.scheduled_for
        hearing.stage = state.stage
        if hearing.status != "postponed":
            hearing.status = "scheduled"
    elif u.kind == "hearing_held":
        _no_hearings_when_closed(state, kind)
        if _held(state, u.hearing_id):
            raise IllegalUpdate("hearing_id: this hearing was already reported as held")
        hearing = _hearing(state, u.hearing_id)
        hearing.status, hearing.held_at = "held", at
        if state.stage == "trial" and state.suspensions and state.suspensions[-1]["resumed_at"] is None:
            _resume(state, rec)  # a trial session held is the trial resumed
    elif u.kind == "hearing_postponed":
        _no_hearings_when_closed(state, kind)
        if _held(state, u.hearing_id):
            raise IllegalUpdate("hearing_id: a hearing that was held cannot be postponed")
        hearing = _hearing(state, u.hearing_id)
        hearing.status = "postponed"
        hearing.postponements.append({"occurred_at": at, "reason": u.reason, "new_date": u.new_date})
        if u.new_date is not None:
            hearing.scheduled_for = u.new_date
        state.postponements_in_stage += 1
        state.postponement_counts[u.key] = state.postponements_in_stage
    elif u.kind in ("victim_attended", "victim_absent"):
        _no_hearings_when_closed(state, kind)
        attended = u.kind == "victim_attended"
        _hearing(state, u.hearing_id).victim = "attended" if attended else "absent"
        state.attendance.append({"occurred_at": at, "hearing_id": u.hearing_id, "attended": attended})
    elif u.kind == "victim_notified":
        state.notifications.append({"occurred_at": at, "about": u.about})
    elif u.kind == "legal_representation_assigned":
        state.representation.append({"occurred_at": at, "representative_ref": u.representative_ref})
    elif u.kind == "protective_measure_granted":
        measure_id = u.measure_id or u.update_id
        known = state.protective_measures.get(measure_id)
        if known is not None and known["ended_at"] is None:
            raise IllegalUpdate(
                "measure_id: this protective measure was already granted; record protective_measure_renewed"
            )
        state.measures.append({"occurred_at": at, "measure": u.measure})
        state.protective_measures[measure_id] = {
            "measure": u.measure,
            "granted_at": at,
            "expires_at": u.expires_at,
            "renewals": 0,
            "ended_at": None,
        }
    elif u.kind in ("protective_measure_renewed", "protective_measure_ended"):
        known = state.protective_measures.get(u.measure_id)
        if known is None:
            raise IllegalUpdate(f"measure_id: no protective measure with this id was granted before {u.kind}")
        if known["ended_at"] is not None:
            raise IllegalUpdate("measure_id: this protective measure already ended")
        # a new dict, never a change in place: clone() shares the entries with the state before
        if u.kind == "protective_measure_renewed":
            changes = {"expires_at": u.expires_at, "renewals": known["renewals"] + 1}
        else:
            changes = {"ended_at": at, "end_reason": u.reason}
        state.protective_measures[u.measure_id] = {**known, **changes}
    elif u.kind == "testimony_taken":
        if state.stage == "archived":
            raise IllegalUpdate("kind: testimony_taken is not possible while the case is archived")
        state.testimonies.append({"occurred_at": at, "method": u.method, "update_id": u.update_id})
    elif u.kind == "reparation_ordered":
        if state.stage == "archived":
            raise IllegalUpdate("kind: reparation_ordered is not possible while the case is archived")
        state.reparations_ordered.append({"occurred_at": at, "amount": u.amount, "currency": u.currency})
    elif u.kind == "reparation_paid":
        state.reparations_paid.append({"occurred_at": at, "amount": u.amount, "currency": u.currency})
    else:  # pragma: no cover - the union is closed
        raise IllegalUpdate(f"kind: {kind} is not handled")
    state.entries.append(rec)
    if state.last_activity_at is None or at > state.last_activity_at:
        state.last_activity_at = at


def _resume(state: TimelineState, rec: Recorded) -> None:
    state.suspensions[-1] = {**state.suspensions[-1], "resumed_at": rec.update.occurred_at}
    _close(state, ("trial_resumption",), "met", rec)


def replay(
    records: Iterable[Recorded], policy: DeadlinePolicy, *, must_apply: frozenset[str] = frozenset()
) -> TimelineState:
    """Fold ``records`` in court order.

    An illegal record whose key is in ``must_apply`` raises :class:`Conflict`; any other illegal
    record is skipped and listed in ``state.skipped`` (history accepted under older rules keeps
    being readable).
    """
    state = TimelineState()
    for rec in sorted(records, key=lambda r: r.order):
        if rec.reconciles is not None:
            state.confirmations[rec.reconciles] = rec
            continue
        try:
            apply(state, rec, policy)
        except IllegalUpdate as exc:
            if rec.key in must_apply:
                raise Conflict(rec, exc.reason) from None
            state.skipped.append(rec.key)
    state.deadline = current_deadline(state, policy)
    return state


class Conflict(IllegalUpdate):
    def __init__(self, record: Recorded, reason: str) -> None:
        super().__init__(reason)
        self.record = record


@dataclass(frozen=True)
class Integration:
    before: TimelineState
    after: TimelineState
    late: bool

    @property
    def stage_changed(self) -> bool:
        return self.before.stage_marker != self.after.stage_marker


def integrate(
    existing: list[Recorded], new: Recorded, policy: DeadlinePolicy, before: TimelineState | None = None
) -> Integration:
    """Place ``new`` among ``existing`` by ``occurred_at``; raise :class:`IllegalUpdate` if it cannot stand.

    ``before`` is ``replay(existing)`` when the caller already has it (the service keeps the state
    of the last accepted update). An update that comes after everything known, the usual case, is
    then applied on a copy of it: no replay at all. Only a late one replays the history with it.
    """
    before = before if before is not None else replay(existing, policy)
    if all(r.order < new.order for r in existing):
        after = before.clone()
        apply(after, new, policy)  # raises IllegalUpdate before changing anything
        after.deadline = current_deadline(after, policy)
        return Integration(before=before, after=after, late=False)
    applied = frozenset(r.key for r in before.entries)
    try:
        after = replay([*existing, new], policy, must_apply=applied | {new.key})
    except Conflict as exc:
        if exc.record.key == new.key:
            raise IllegalUpdate(exc.reason) from None
        raise IllegalUpdate(
            f"occurred_at: placed before the already accepted update {exc.record.update.update_id} "
            f"({exc.record.update.kind}), it would make that one illegal ({exc.reason})"
        ) from None
    late = any(r.order > new.order for r in before.entries)
    if late and new.update.kind != "case_reopened" and _moves_back(before.stage, after.stage):
        raise IllegalUpdate("occurred_at: this late update would move the current stage backwards")
    return Integration(before=before, after=after, late=late)


def _moves_back(before: Stage | None, after: Stage | None) -> bool:
    if before is None or after is None:
        return after is None and before is not None
    if before == "archived":
        return after != "archived"
    if after == "archived":
        return False
    return PROCESS_STAGES.index(after) < PROCESS_STAGES.index(before)


# -- the facts an accepted update publishes (court update + its effect on the timeline)

_NAMESPACE = uuid.UUID("8d2f3c5e-4f0b-4f8e-9d7a-6c1b2a3e4f50")

_KIND_TO_EVENT: dict[str, type[ev.LegalFact]] = {
    "hearing_scheduled": ev.HearingScheduled,
    "hearing_held": ev.HearingHeld,
    "hearing_postponed": ev.HearingPostponed,
    "victim_notified": ev.VictimNotified,
    "victim_attended": ev.VictimAttended,
    "victim_absent": ev.VictimAbsent,
    "legal_representation_assigned": ev.RepresentationAssigned,
    "protective_measure_granted": ev.ProtectiveMeasureGranted,
    "verdict_issued": ev.VerdictIssued,
    "reparation_ordered": ev.ReparationOrdered,
    "reparation_paid": ev.ReparationPaid,
    "appeal_filed": ev.AppealFiled,
    "case_archived": ev.CaseArchived,
    "case_reopened": ev.CaseReopened,
    "deadline_extended": ev.DeadlineExtended,
    "complexity_declared": ev.ComplexityDeclared,
    "provisional_reserve": ev.CaseArchived,
    "accusation_filed": ev.AccusationFiled,
    "dismissal_requested": ev.DismissalRequested,
    "trial_suspended": ev.TrialSuspended,
    "trial_resumed": ev.TrialResumed,
    "order_issued": ev.OrderIssued,
    "elevation_requested": ev.ElevationRequested,
    "elevation_decided": ev.ElevationDecided,
    "principio_de_oportunidad": ev.OpportunityApplied,
    "protective_measure_renewed": ev.ProtectiveMeasureRenewed,
    "protective_measure_ended": ev.ProtectiveMeasureEnded,
    "testimony_taken": ev.TestimonyTaken,
}

_COMMON = {"source_system", "update_id", "case_id", "occurred_at", "kind"}


def facts_for(update: CourtUpdate, result: Integration) -> list[ev.LegalFact]:
    """``stage_changed`` first (when the current stage, its start or complexity moved), then the kind's fact.

    A late ``stage_changed`` that only fills in history emits nothing: the alerts side would
    read it as a move back to an earlier stage.
    """
    after = result.after
    common: dict[str, Any] = {
        "case_id": update.case_id,
        "source_system": update.source_system,
        "update_id": update.update_id,
        "occurred_at": update.occurred_at,
        "stage": after.stage,
    }
    facts: list[ev.LegalFact] = []
    if result.stage_changed and after.stage_started_at is not None:
        facts.append(
            ev.StageChanged(
                **common,
                previous_stage=result.before.stage,
                stage_started_at=after.stage_started_at,
                deadline_at=after.deadline.deadline_at if after.deadline else None,
                extended_deadline_at=after.deadline.extended_deadline_at if after.deadline else None,
                complexity=after.complexity,
                deadline_basis=after.deadline.basis if after.deadline else None,
            )
        )
    cls = _KIND_TO_EVENT.get(update.kind)
    if cls is not None:
        fields = {k: v for k, v in update.model_dump(exclude_none=True).items() if k not in _COMMON}
        fields.pop("stage", None)  # case_reopened's target stage: the fact carries the stage after the update
        if update.kind == "hearing_postponed":
            fields["postponements_in_stage"] = after.postponement_counts.get(update.key, 1)
        if update.kind in ("deadline_extended", "complexity_declared"):
            fields["deadline_at"] = after.deadline.deadline_at if after.deadline else None
        if update.kind == "provisional_reserve":
            fields["disposition"] = "provisional_reserve"
        if update.kind == "elevation_requested":
            fields["late"] = bool(after.elevations and after.elevations[-1]["late"])
        if update.kind == "protective_measure_granted":
            fields["measure_id"] = update.measure_id or update.update_id  # what renewals and ends name
        if update.kind == "principio_de_oportunidad":
            fields["outcome"] = after.opportunity[-1]["outcome"] if after.opportunity else "abstention"
        facts.append(cls(**common, **fields))
        if update.kind == "principio_de_oportunidad" and after.stage == "archived":
            # an abstention sets the case aside like an archive: consumers of case_archived see it
            facts.append(
                ev.CaseArchived(**common, reason="principio_de_oportunidad", disposition="principio_de_oportunidad")
            )
    facts.extend(deadline_facts(common, result))
    return facts


def deadline_facts(common: dict[str, Any], result: Integration) -> list[ev.LegalFact]:
    """One ``deadline_set`` per non-stage deadline this update opened, met, cancelled or moved."""
    before = result.before.deadlines
    out: list[ev.LegalFact] = []
    for deadline_id, d in sorted(result.after.deadlines.items(), key=lambda kv: (kv[1].opened_at, kv[0])):
        old = before.get(deadline_id)
        if old is not None and (old.status, old.due_at) == (d.status, d.due_at):
            continue
        out.append(
            ev.DeadlineSet(
                **common,
                deadline_id=deadline_id,
                deadline_kind=d.kind,
                status=d.status,
                due_at=d.due_at,
                opened_at=d.opened_at,
                article=d.article,
                counting=d.counting,
                nature=d.nature,
                late=d.late,
            )
        )
    return out


def envelopes(facts: list[ev.LegalFact]) -> list[CloudEvent]:
    """Deterministic event ids: the same update can never yield two different events of one type."""
    return [new_event(f, event_id=event_id(f)) for f in facts]


def event_id(fact: ev.LegalFact) -> str:
    name = f"{fact.source_system}|{fact.update_id}|{fact.TYPE}"
    if isinstance(fact, ev.DeadlineSet):
        name += f"|{fact.deadline_id}"  # one update may open one deadline and meet another
    return str(uuid.uuid5(_NAMESPACE, name))
