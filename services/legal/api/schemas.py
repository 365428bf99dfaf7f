"""Request/response schemas of the legal API (distinct from the stored documents and the events)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from services.legal.domain.stages import Complexity, Stage
from services.legal.domain.timeline import Recorded, TimelineState
from services.legal.domain.updates import dump_update


class ItemResult(BaseModel):
    index: int = Field(description="position of the item in the request (0-based)")
    status: Literal["accepted", "duplicate", "rejected"]
    update_id: str | None = Field(None, description="the item's update_id when it is a valid identifier")
    case_id: str | None = Field(None, description="the item's case_id when it is a valid identifier")
    reason: str | None = Field(None, description="why it was rejected: the field and the rule, never the value")
    reconciled_with: str | None = Field(
        None,
        description="update_id of the entry already recording the same fact from the other kind of author "
        "(integrator vs advocate): the fact is kept once",
    )


class CourtUpdatesResult(BaseModel):
    accepted: int
    duplicate: int
    rejected: int
    results: list[ItemResult]


class StageEntry(BaseModel):
    stage: Stage
    started_at: datetime
    source_system: str
    update_id: str
    basis: str | None = Field(None, description="the procedure and article of a special transition")
    imported: bool | None = Field(None, description="true: the case entered monitoring in this stage (import)")


class Extension(BaseModel):
    occurred_at: datetime
    stage: Stage | None = None
    granted_by: str
    legal_basis: str
    new_deadline: datetime | None = None
    extra_days: int | None = None


class ComplexityDeclaration(BaseModel):
    occurred_at: datetime
    complexity: Complexity
    legal_basis: str | None = None
    stage: Stage | None = None


class Postponement(BaseModel):
    occurred_at: datetime
    reason: str
    new_date: datetime | None = None


class HearingView(BaseModel):
    hearing_id: str
    status: Literal["scheduled", "held", "postponed"]
    scheduled_for: datetime | None = None
    held_at: datetime | None = None
    stage: Stage | None = None
    postponements: list[Postponement]
    victim: Literal["attended", "absent"] | None = Field(None, description="the child's attendance, when reported")


class Dated(BaseModel):
    occurred_at: datetime


class Notification(Dated):
    about: str


class Attendance(Dated):
    hearing_id: str
    attended: bool


class Representation(Dated):
    representative_ref: str | None = None


class Measure(Dated):
    measure: str


class Verdict(Dated):
    outcome: Literal["conviction", "acquittal"]
    stage: Stage | None = None


class Money(Dated):
    amount: float | None = None
    currency: str | None = None


class Archive(Dated):
    reason: str
    from_stage: Stage | None = None
    disposition: Literal["archive", "provisional_reserve", "principio_de_oportunidad"] = "archive"


class Appeal(Dated):
    against: Literal["sentence", "order"] = "sentence"


class DeadlineView(BaseModel):
    """A deadline that is not a stage's (appeal window, elevation, trial resumption...)."""

    deadline_id: str
    kind: str = Field(description="archive_elevation, elevation_decision, appeal_sentence, appeal_order, ...")
    opened_at: datetime
    due_at: datetime = Field(description="the end of the last day, in the organisation's time zone")
    article: str | None
    counting: Literal["calendar", "working"]
    nature: Literal["duty", "window"] = Field(description="duty: someone must act; window: a right that lapses")
    status: Literal["open", "met", "cancelled"]
    closed_at: datetime | None = None
    late: bool = False


class Elevation(BaseModel):
    requested_at: datetime
    late: bool = Field(description="requested after the window of art. 334.5 closed")
    decided_at: datetime | None = None
    outcome: Literal["archive_upheld", "formalise", "continue_investigation"] | None = None


class Pronouncement(Dated):
    decision: Literal["accusation", "dismissal"]


class Suspension(BaseModel):
    suspended_at: datetime
    reason: str
    resumed_at: datetime | None = None


class Order(Dated):
    order: str


class Opportunity(Dated):
    outcome: Literal["abstention", "dismissal"]
    legal_basis: str | None = None


class Reopening(Dated):
    reason: str | None = None
    stage: Stage


class Provenance(BaseModel):
    """Who recorded an entry: an integrator system, or a person (pseudonymous id and role)."""

    type: Literal["system", "person"]
    source_system: str | None = Field(None, description="system: the integrator's source_system")
    sub: str | None = Field(None, description="person: the token subject (pseudonymous user id)")
    role: str | None = Field(None, description="person: legal_advocate or supervisor")


class Confirmation(BaseModel):
    """The integrator update that later reported the same fact as a person-recorded entry."""

    source_system: str
    update_id: str
    occurred_at: datetime
    received_at: datetime


class Entry(BaseModel):
    occurred_at: datetime
    received_at: datetime
    kind: str
    source_system: str
    update_id: str
    path: str
    applied: bool = Field(description="false when the update no longer fits the history under current rules")
    recorded_by: Provenance
    confirmed_by: Confirmation | None = Field(
        None, description="person-recorded entries: the integrator update reporting the same fact, once it came"
    )
    details: dict[str, Any]


class Timeline(BaseModel):
    case_id: str
    stage: Stage | None
    stage_started_at: datetime | None
    stage_age_seconds: float | None
    complexity: Complexity
    deadline_at: datetime | None = Field(description="statutory deadline of the current stage")
    extended_deadline_at: datetime | None = Field(description="the deadline if the legal extension is granted")
    deadline_basis: str | None = Field(
        None, description="what deadline_at rests on: the term's article, or the basis of the extension that set it"
    )
    overdue: bool
    open: bool
    last_activity_at: datetime | None
    postponements_in_stage: int
    stage_history: list[StageEntry]
    hearings: list[HearingView]
    victim_notifications: list[Notification]
    victim_attendance: list[Attendance]
    representation: list[Representation]
    protective_measures: list[Measure]
    verdicts: list[Verdict]
    reparations_ordered: list[Money]
    reparations_paid: list[Money]
    appeals: list[Appeal]
    archives: list[Archive]
    reopenings: list[Reopening]
    extensions: list[Extension] = Field(default_factory=list)
    complexity_declarations: list[ComplexityDeclaration] = Field(default_factory=list)
    deadlines: list[DeadlineView] = Field(
        default_factory=list, description="deadlines that are not the stage's, oldest first (issue 12 item 3)"
    )
    elevations: list[Elevation] = Field(default_factory=list)
    pronouncements: list[Pronouncement] = Field(default_factory=list)
    trial_suspensions: list[Suspension] = Field(default_factory=list)
    orders: list[Order] = Field(default_factory=list)
    opportunity: list[Opportunity] = Field(default_factory=list)
    entries: list[Entry]

    @classmethod
    def build(cls, case_id: str, state: TimelineState, now: datetime | None = None) -> Timeline:
        now = now or datetime.now(UTC)
        deadline = state.deadline
        skipped = set(state.skipped)
        entries = sorted(state.entries, key=lambda r: r.order)
        return cls(
            case_id=case_id,
            stage=state.stage,
            stage_started_at=state.stage_started_at,
            stage_age_seconds=(now - state.stage_started_at).total_seconds() if state.stage_started_at else None,
            complexity=state.complexity,
            deadline_at=deadline.deadline_at if deadline else None,
            extended_deadline_at=deadline.extended_deadline_at if deadline else None,
            deadline_basis=deadline.basis if deadline else None,
            overdue=bool(deadline and deadline.deadline_at < now),
            open=state.is_open,
            last_activity_at=state.last_activity_at,
            postponements_in_stage=state.postponements_in_stage,
            stage_history=[StageEntry(**h) for h in state.stage_history],
            hearings=[
                HearingView(
                    hearing_id=h.hearing_id,
                    status=h.status,
                    scheduled_for=h.scheduled_for,
                    held_at=h.held_at,
                    stage=h.stage,
                    postponements=[Postponement(**p) for p in h.postponements],
                    victim=h.victim,
                )
                for h in state.hearings.values()
            ],
            victim_notifications=[Notification(**n) for n in state.notifications],
            victim_attendance=[Attendance(**a) for a in state.attendance],
            representation=[Representation(**r) for r in state.representation],
            protective_measures=[Measure(**x) for x in state.measures],
            verdicts=[Verdict(**v) for v in state.verdicts],
            reparations_ordered=[Money(**x) for x in state.reparations_ordered],
            reparations_paid=[Money(**x) for x in state.reparations_paid],
            appeals=[Appeal(**a) for a in state.appeals],
            archives=[Archive(**a) for a in state.archives],
            reopenings=[Reopening(**r) for r in state.reopenings],
            extensions=[Extension(**x) for x in state.extensions],
            complexity_declarations=[ComplexityDeclaration(**c) for c in state.complexity_declarations],
            deadlines=[
                DeadlineView(**{k: v for k, v in vars(d).items() if k not in ("opened_by", "closed_by")})
                for d in sorted(state.deadlines.values(), key=lambda d: (d.opened_at, d.deadline_id))
            ],
            elevations=[Elevation(**e) for e in state.elevations],
            pronouncements=[
                Pronouncement(occurred_at=p["occurred_at"], decision=p["decision"]) for p in state.pronouncements
            ],
            trial_suspensions=[Suspension(**x) for x in state.suspensions],
            orders=[Order(**o) for o in state.orders],
            opportunity=[Opportunity(**o) for o in state.opportunity],
            entries=[_entry(r, r.key not in skipped, state.confirmations.get(r.key)) for r in entries],
        )


def _entry(rec: Recorded, applied: bool, confirmation: Recorded | None) -> Entry:
    data = dump_update(rec.update)
    common = {k: data.pop(k) for k in ("occurred_at", "kind", "source_system", "update_id")}
    data.pop("case_id", None)
    confirmed = None
    if confirmation is not None:
        confirmed = Confirmation(
            source_system=confirmation.update.source_system,
            update_id=confirmation.update.update_id,
            occurred_at=confirmation.update.occurred_at,
            received_at=confirmation.received_at,
        )
    return Entry(
        **common,
        received_at=rec.received_at,
        path=rec.path,
        applied=applied,
        recorded_by=Provenance(**rec.provenance),
        confirmed_by=confirmed,
        details=data,
    )


class CaseSummary(BaseModel):
    case_id: str
    stage: Stage | None
    stage_started_at: datetime | None
    complexity: str | None
    deadline_at: datetime | None
    extended_deadline_at: datetime | None
    overdue: bool
    last_activity_at: datetime | None
    advocate_id: str | None


class CasePage(BaseModel):
    items: list[CaseSummary]
    page: int
    page_size: int
    total: int
