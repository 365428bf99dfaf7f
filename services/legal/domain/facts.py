"""Court update + its effect on the timeline -> the normalised facts published on ``legal-events``."""

from __future__ import annotations

import uuid
from typing import Any

from services.legal.domain.timeline import Integration
from services.legal.domain.updates import CourtUpdate
from shared.events import CloudEvent, new_event
from shared.events import legal as ev

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
