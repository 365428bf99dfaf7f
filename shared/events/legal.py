"""Normalised facts published by the legal service on ``legal-events``.

Every fact carries the integrator's ``(source_system, update_id)`` and when it happened in court
(``occurred_at``), plus the stage the prosecution is in after it, so the alerts side never
recomputes law.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.events.envelope import EventPayload, event_type

SOURCE = "/centinela/legal"

# The stages of a prosecution in order; a `stage_changed` update may name any of them. Archiving
# is a stage too, but has its own update kind (it needs a reason).
ProcessStage = Literal[
    "complaint_filed",
    "preliminary_investigation",
    "preparatory_investigation",
    "intermediate_stage",
    "trial",
    "verdict",
    "appeal",
    "final",
]
Stage = Literal[ProcessStage, "archived"]


class LegalFact(EventPayload):
    source_system: str
    update_id: str
    occurred_at: datetime
    stage: Stage | None = None
    # Set when the fact comes from a batch of updates (a REST request with several, an import):
    # every fact of the batch carries its id, and the facts of the last accepted update of each case
    # in the batch carry batch_last: true, so consumers may evaluate the case once, at its end
    # (issue 18 item 1). Absent: evaluate at once, as always.
    batch_id: str | None = None
    batch_last: bool | None = None


@event_type("centinela.legal.stage_changed", 1, SOURCE)
class StageChanged(LegalFact):
    previous_stage: Stage | None = None
    stage_started_at: datetime
    deadline_at: datetime | None = None
    # The statutory extension on top of deadline_at (e.g. art. 342: +60 days); granted or not, the
    # court decides, so alerts may use it to word a finding but deadline_at is what applies.
    extended_deadline_at: datetime | None = None
    complexity: Literal["ordinary", "complex", "organised_crime"] = "ordinary"
    # What deadline_at rests on: the article of the statutory term, or the legal basis of the
    # extension that set it (e.g. "CPP art. 342.1"). Emitted again, same stage, when it moves.
    deadline_basis: str | None = None


@event_type("centinela.legal.hearing_scheduled", 1, SOURCE)
class HearingScheduled(LegalFact):
    hearing_id: str
    scheduled_for: datetime


@event_type("centinela.legal.hearing_held", 1, SOURCE)
class HearingHeld(LegalFact):
    hearing_id: str


@event_type("centinela.legal.hearing_postponed", 1, SOURCE)
class HearingPostponed(LegalFact):
    hearing_id: str
    reason: str
    new_date: datetime | None = None
    postponements_in_stage: int = 1


@event_type("centinela.legal.victim_notified", 1, SOURCE)
class VictimNotified(LegalFact):
    about: str = "general"


@event_type("centinela.legal.victim_attended", 1, SOURCE)
class VictimAttended(LegalFact):
    hearing_id: str | None = None


@event_type("centinela.legal.victim_absent", 1, SOURCE)
class VictimAbsent(LegalFact):
    hearing_id: str | None = None


@event_type("centinela.legal.representation_assigned", 1, SOURCE)
class RepresentationAssigned(LegalFact):
    representative_ref: str | None = None


@event_type("centinela.legal.protective_measure_granted", 1, SOURCE)
class ProtectiveMeasureGranted(LegalFact):
    measure: str
    # optional additions (v1 stays): the measure's id for its renewals and end (the update_id when the
    # court system gave none) and when it lapses unless renewed
    measure_id: str | None = None
    expires_at: datetime | None = None


@event_type("centinela.legal.protective_measure_renewed", 1, SOURCE)
class ProtectiveMeasureRenewed(LegalFact):
    """A protective measure granted before was renewed: it now lapses at ``expires_at``."""

    measure_id: str
    expires_at: datetime


@event_type("centinela.legal.protective_measure_ended", 1, SOURCE)
class ProtectiveMeasureEnded(LegalFact):
    """A protective measure was lifted or ended by the court: its expiry no longer matters."""

    measure_id: str
    reason: str | None = None


@event_type("centinela.legal.testimony_taken", 1, SOURCE)
class TestimonyTaken(LegalFact):
    """The child's testimony was taken: in the single Cámara Gesell interview or another way."""

    method: Literal["camara_gesell", "other"]


@event_type("centinela.legal.verdict_issued", 1, SOURCE)
class VerdictIssued(LegalFact):
    outcome: Literal["conviction", "acquittal"]


@event_type("centinela.legal.reparation_ordered", 1, SOURCE)
class ReparationOrdered(LegalFact):
    amount: float | None = None
    currency: str | None = None


@event_type("centinela.legal.reparation_paid", 1, SOURCE)
class ReparationPaid(LegalFact):
    amount: float | None = None
    currency: str | None = None


@event_type("centinela.legal.appeal_filed", 1, SOURCE)
class AppealFiled(LegalFact):
    # None or "sentence": the case moves to (or stays in) the appeal stage; "order": an auto's appeal
    against: Literal["sentence", "order"] | None = None


@event_type("centinela.legal.case_archived", 1, SOURCE)
class CaseArchived(LegalFact):
    reason: str
    # what kind of disposition set the case aside: an archive (CPP art. 334.1), a provisional reserve
    # (art. 334.4) or an abstention under the principio de oportunidad (art. 2)
    disposition: Literal["archive", "provisional_reserve", "principio_de_oportunidad"] = "archive"


@event_type("centinela.legal.case_reopened", 1, SOURCE)
class CaseReopened(LegalFact):
    reason: str | None = None


@event_type("centinela.legal.deadline_extended", 1, SOURCE)
class DeadlineExtended(LegalFact):
    """An extension of the current stage's deadline was granted (followed by a stage_changed with it)."""

    granted_by: str
    legal_basis: str
    new_deadline: datetime | None = None
    extra_days: int | None = None
    deadline_at: datetime | None = None


@event_type("centinela.legal.complexity_declared", 1, SOURCE)
class ComplexityDeclared(LegalFact):
    """The case was declared complex / organised crime (or back to ordinary); the term follows."""

    complexity: Literal["ordinary", "complex", "organised_crime"]
    legal_basis: str | None = None
    deadline_at: datetime | None = None


@event_type("centinela.legal.deadline_set", 1, SOURCE)
class DeadlineSet(LegalFact):
    """A deadline that is not a stage's opened, was met, or was cancelled (issue 12 item 3).

    One per change of a deadline, keyed by ``deadline_id`` (stable: ``<deadline_kind>:<opening key>``).
    ``nature``: ``duty`` (someone must act by ``due_at``: past it, an alert) or ``window`` (a right that
    lapses at ``due_at``: reminders before it, no alert after). Stage deadlines stay on ``stage_changed``.
    """

    deadline_id: str
    deadline_kind: str  # archive_elevation, elevation_decision, appeal_sentence, appeal_order, cassation, ...
    status: Literal["open", "met", "cancelled"]
    due_at: datetime
    opened_at: datetime
    article: str | None = None
    counting: Literal["calendar", "working"] = "calendar"
    nature: Literal["duty", "window"] = "duty"
    late: bool = False  # met after due_at


@event_type("centinela.legal.accusation_filed", 1, SOURCE)
class AccusationFiled(LegalFact):
    """The prosecutor accused (the pronouncement of CPP art. 344.1): the intermediate stage's term is met."""


@event_type("centinela.legal.dismissal_requested", 1, SOURCE)
class DismissalRequested(LegalFact):
    """The prosecutor requested sobreseimiento (CPP art. 344.1): the intermediate stage's term is met."""


@event_type("centinela.legal.trial_suspended", 1, SOURCE)
class TrialSuspended(LegalFact):
    reason: str


@event_type("centinela.legal.trial_resumed", 1, SOURCE)
class TrialResumed(LegalFact):
    pass


@event_type("centinela.legal.order_issued", 1, SOURCE)
class OrderIssued(LegalFact):
    order: str


@event_type("centinela.legal.elevation_requested", 1, SOURCE)
class ElevationRequested(LegalFact):
    """The victim asked that the archive / reserve be elevated to the superior prosecutor (CPP art. 334.5)."""

    late: bool = False  # after the 5-day window


@event_type("centinela.legal.elevation_decided", 1, SOURCE)
class ElevationDecided(LegalFact):
    """The superior prosecutor decided (CPP art. 334.6); formalise / continue_investigation reopen the case."""

    outcome: Literal["archive_upheld", "formalise", "continue_investigation"]


@event_type("centinela.legal.opportunity_applied", 1, SOURCE)
class OpportunityApplied(LegalFact):
    """Principio de oportunidad (CPP art. 2): abstention (case archived) or dismissal (art. 2.7, final)."""

    outcome: Literal["abstention", "dismissal"]
    legal_basis: str | None = None
