"""Facts published by intake on ``case-events``. Pseudonymous ids only, never identity."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, get_args

from pydantic import Field

from shared.events.envelope import EventPayload, event_type

SOURCE = "/centinela/intake"

CaseStatus = Literal["Active", "FollowUp", "Closed", "ClosedReferred"]
SessionOutcome = Literal["attended", "missed", "cancelled"]
ReferralStatus = Literal["in_progress", "accepted", "rejected", "done", "revoked"]

# The coded, generalised quasi-identifiers a registration may carry for anonymised statistics (the
# HTCDS export): never a birth date, an exact age, a name or a document. Intake derives them from the
# encrypted identity when the case is registered (services.intake.domain.model.registration_codes).
# Age bands: the ageBroad bands of the export (0-8, 9-17, 18+) for the age on the day of registration.
AgeBand = Literal["0-8", "9-17", "18+"]
AGE_BANDS: tuple[str, ...] = get_args(AgeBand)
# The sex intake records, as coded values (the export writes HTCDS gender: Female, Male, Other);
# "unknown" is never sent: the field is left out instead.
Sex = Literal["female", "male", "other"]
SEXES: tuple[str, ...] = get_args(Sex)
# Citizenship: ISO 3166-1 alpha-2 (intake converts an alpha-3 nationality; readers ignore anything else)
COUNTRY_ALPHA2_PATTERN = r"^[A-Z]{2}$"


@event_type("centinela.case.registered", 1, SOURCE)
class CaseRegistered(EventPayload):
    org_id: str
    advocate_id: str | None = None
    status: CaseStatus = "Active"
    exploitation_types: list[str] = Field(default_factory=list)
    region: str | None = None
    rescue_date: date | None = None
    person_ref: str | None = None
    consent_for_services: bool = False
    registered_at: datetime
    # optional addition (v1 stays): coded place of exploitation (UBIGEO department/province or ISO 3166-2);
    # the free-text place never travels
    place_of_exploitation_code: str | None = None
    # optional additions (v1 stays): coded quasi-identifiers for the anonymised export, left out when
    # the identity does not give them (see AgeBand, Sex, COUNTRY_ALPHA2_PATTERN above)
    sex: Sex | None = None
    age_band: AgeBand | None = None
    citizenship: str | None = None


@event_type("centinela.case.updated", 1, SOURCE)
class CaseUpdated(EventPayload):
    changed_fields: list[str]
    updated_at: datetime
    # optional addition (v1 stays): the new coded place when "place_of_exploitation_code" is among changed_fields
    place_of_exploitation_code: str | None = None


@event_type("centinela.case.status_changed", 1, SOURCE)
class CaseStatusChanged(EventPayload):
    previous_status: CaseStatus
    status: CaseStatus
    changed_at: datetime


@event_type("centinela.case.closed", 1, SOURCE)
class CaseClosed(EventPayload):
    status: CaseStatus
    closed_at: datetime


@event_type("centinela.case.advocate_assigned", 1, SOURCE)
class AdvocateAssigned(EventPayload):
    advocate_id: str
    previous_advocate_id: str | None = None
    org_id: str
    assigned_at: datetime


@event_type("centinela.service.planned", 1, SOURCE)
class ServicePlanned(EventPayload):
    service_id: str
    spl_type: str
    service_kind: str
    provider_org_id: str
    first_due_at: datetime
    interval_days: int | None = None
    sessions_planned: int | None = None
    planned_at: datetime
    # optional additions (v1 stays): the Primero timeframe first_due_at was computed from
    service_response_timeframe: str | None = None


@event_type("centinela.session.recorded", 1, SOURCE)
class SessionRecorded(EventPayload):
    service_id: str
    session_id: str
    service_kind: str
    outcome: SessionOutcome
    occurred_at: datetime
    recorded_at: datetime
    # optional additions (v1 stays)
    provider_org_id: str | None = None
    missed_reason: str | None = None


@event_type("centinela.risk.flagged", 1, SOURCE)
class RiskFlagged(EventPayload):
    flag_id: str
    kind: Literal[
        "contact_with_trafficker", "runaway_missing", "threat_received", "return_to_exploitation_site", "other"
    ]
    severity: Literal["low", "medium", "high", "critical"]
    raised_at: datetime
    observed_at: datetime | None = None  # optional addition (v1 stays): when the danger was seen


@event_type("centinela.person.reregistered", 1, SOURCE)
class PersonReregistered(EventPayload):
    person_ref: str
    previous_case_ids: list[str]
    detected_at: datetime


@event_type("centinela.case.person_reregistered", 1, SOURCE)
class CasePersonReregistered(EventPayload):
    """On an *earlier* case (``subject`` = its ``case_id``): the same ``person_ref`` was registered
    in a new case, so the earlier case's advocate can be told (a revictimisation signal).

    ``new_case_id`` is set only when both cases belong to the same organisation; across
    organisations it is null, because another organisation's case ids are never disclosed.
    """

    org_id: str  # the earlier case's organisation
    new_case_org_id: str
    new_case_id: str | None = None
    person_ref: str
    detected_at: datetime


@event_type("centinela.followup.planned", 1, SOURCE)
class FollowUpPlanned(EventPayload):
    followup_id: str
    planned_date: date
    kind: str = "reintegration"
    planned_at: datetime


@event_type("centinela.followup.recorded", 1, SOURCE)
class FollowUpRecorded(EventPayload):
    followup_id: str
    done_date: date
    outcome: str
    recorded_at: datetime


@event_type("centinela.referral.status_changed", 1, SOURCE)
class ReferralStatusChanged(EventPayload):
    referral_id: str
    from_org_id: str
    to_org_id: str
    status: ReferralStatus
    previous_status: ReferralStatus | None = None
    changed_at: datetime
    consent_override: bool = False  # optional addition (v1 stays): opened without consent by a supervisor


@event_type("centinela.case.prosecutor_refs_set", 1, SOURCE)
class ProsecutorRefsSet(EventPayload):
    """The case's prosecutor references were set or changed (the file numbers, never a name).

    ``shared_with_systems`` lists the court integrators' ``source_system`` values allowed to resolve the
    carpeta to this case (and, for a legal service that binds integrators to cases, to publish for it).
    """

    org_id: str
    carpeta_fiscal: str
    office: str
    expediente: str | None = None
    shared_with_systems: list[str] = Field(default_factory=list)
    previous_carpeta_fiscal: str | None = None
    previous_office: str | None = None
    set_at: datetime
    set_by_role: str


@event_type("centinela.reintegration.recorded", 1, SOURCE)
class ReintegrationRecorded(EventPayload):
    """A reintegration outcome of the child (IOM indicators), coded values only.

    ``domain`` / ``status``: education (enrolled, attending, dropped_out, completed); employment
    (in_training, training_completed, employed, not_employed); placement (family, foster, residential,
    independent); documentation (dni_in_process, dni_obtained). ``effective_date`` is when it became
    true (a calendar date); ``previous_status`` is the domain's status before this record (the latest by
    effective date), None for the first record of the domain.
    """

    org_id: str
    outcome_id: str
    domain: Literal["education", "employment", "placement", "documentation"]
    status: str
    effective_date: date
    previous_status: str | None = None
    recorded_at: datetime
