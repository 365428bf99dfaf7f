"""The case aggregate and its rules. Pure: no I/O, the clock and ids are passed in.

A case is one document holding its services, sessions, risk flags, follow-ups and referrals,
so every change is one atomic write and one case's events stay in order. Each rule returns
the new state plus the facts (event payloads) it caused.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, get_args

from babel import Locale
from babel.core import get_global
from pydantic import BaseModel, ConfigDict, Field, field_validator

from services.intake.domain import htcds
from shared import vocab
from shared.events.case import (
    AGE_BANDS,
    COUNTRY_ALPHA2_PATTERN,
    SEXES,
    AdvocateAssigned,
    CaseClosed,
    CasePersonReregistered,
    CaseRegistered,
    CaseStatusChanged,
    CaseUpdated,
    FollowUpPlanned,
    FollowUpRecorded,
    PersonReregistered,
    ProsecutorRefsSet,
    ReferralStatusChanged,
    ReintegrationRecorded,
    RiskFlagged,
    ServicePlanned,
    SessionRecorded,
)
from shared.events.envelope import EventPayload

# --- vocabularies (IOM HTCDS 2.0 and Primero names) ---------------------------------------------
# The lists other services share come from shared.vocab, so intake, events and rules cannot drift.
CaseStatus = vocab.CaseStatus
CLOSED_STATUSES = vocab.CLOSED_STATUSES
# HTCDS 2.0 values; the earlier words are still accepted (domain.htcds has the mapping)
TraffickingStatus = htcds.TraffickingStatus
# HTCDS 2.0 vic_TypeOfExploitation plus the project's earlier words, stored as given (events, the
# processor and reports carry them; shared.vocab maps each to its HTCDS value for exports)
ExploitationType = vocab.ExploitationType
EXPLOITATION_TYPES = vocab.EXPLOITATION_TYPES
MethodOfControl = htcds.MethodOfControl
SplType = Literal[
    "Education",
    "Financial",
    "Health",
    "Legal",
    "Livelihood",
    "SocialCare",
    "SexualExploitationRehabilitation",
    "Accommodation",
    "Other",
]
ServiceKind = Literal[
    "psychosocial", "legal_counselling", "health", "education", "employment_assistance", "reintegration_workshop"
]
# Which HTCDS support type a finer service kind may be filed under; the first is the default.
KIND_TO_SPL: dict[str, tuple[str, ...]] = {
    "psychosocial": ("SocialCare", "SexualExploitationRehabilitation", "Health"),
    "legal_counselling": ("Legal",),
    "health": ("Health", "SexualExploitationRehabilitation"),
    "education": ("Education",),
    "employment_assistance": ("Livelihood", "Financial", "Education"),
    "reintegration_workshop": ("SocialCare", "Livelihood", "Education", "Other"),
}
ResponseTimeframe = Literal["1_hour", "3_hours", "1_day", "3_days", "1_week", "2_weeks", "1_month"]
TIMEFRAMES: dict[str, timedelta] = {
    "1_hour": timedelta(hours=1),
    "3_hours": timedelta(hours=3),
    "1_day": timedelta(days=1),
    "3_days": timedelta(days=3),
    "1_week": timedelta(weeks=1),
    "2_weeks": timedelta(weeks=2),
    "1_month": timedelta(days=30),
}
assert set(TIMEFRAMES) == set(get_args(ResponseTimeframe))
SessionOutcome = Literal["attended", "missed", "cancelled"]
MissedReason = Literal["child_absent", "child_unwell", "provider_unavailable", "transport", "unreachable", "other"]
RiskKind = Literal[
    "contact_with_trafficker", "runaway_missing", "threat_received", "return_to_exploitation_site", "other"
]
RiskSeverity = vocab.Severity
FollowUpKind = Literal["reintegration", "post_closure_3_months", "post_closure_6_months", "post_closure_12_months"]
FollowUpOutcome = Literal["contacted_stable", "contacted_concerns", "not_located", "declined", "other"]
ReferralStatus = vocab.ReferralStatus
# Reintegration outcomes (IOM reintegration indicators): the statuses each domain may take.
ReintegrationDomain = Literal["education", "employment", "placement", "documentation"]
REINTEGRATION_STATUSES: dict[str, tuple[str, ...]] = {
    "education": ("enrolled", "attending", "dropped_out", "completed"),
    "employment": ("in_training", "training_completed", "employed", "not_employed"),
    "placement": ("family", "foster", "residential", "independent"),
    "documentation": ("dni_in_process", "dni_obtained"),
}
assert set(REINTEGRATION_STATUSES) == set(get_args(ReintegrationDomain))
# Primero's referral life cycle; who may move it is decided in the API (receiving vs referring org).
REFERRAL_TRANSITIONS: dict[str, frozenset[str]] = {
    "in_progress": frozenset({"accepted", "rejected", "revoked"}),
    "accepted": frozenset({"done", "revoked"}),
    "rejected": frozenset(),
    "done": frozenset(),
    "revoked": frozenset(),
}
RECEIVER_STATUSES = frozenset({"accepted", "rejected", "done"})
SENDER_STATUSES = frozenset({"revoked"})


# --- errors (mapped to HTTP by the API; messages never carry personal data) ----------------------
class DomainError(Exception):
    status = 409

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RuleViolation(DomainError):
    status = 409


class LimitExceeded(DomainError):
    status = 409


class NotFound(DomainError):
    status = 404


class InvalidInput(RuleViolation):
    """The request contradicts itself, whatever the case holds: 422 naming the field (a subclass of
    RuleViolation so callers that catch every refusal still do). Checked before the case's own state,
    so the same bad input gets the same answer on any case."""

    status = 422

    def __init__(self, field: str, message: str, type_: str = "value_error") -> None:
        super().__init__(message)
        self.field = field
        self.type = type_


def new_id(prefix: str, nbytes: int = 16) -> str:
    """Opaque, non-guessable ids (128 random bits for cases)."""
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


CASE_ID_PATTERN = vocab.CASE_ID_PATTERN
ITEM_ID_PATTERN = vocab.ITEM_ID_PATTERN


# --- aggregate ------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ServiceFields(_Model):
    """A planned service as a reader sees it, but for its id and SPL type (the API spells it spl_Type)."""

    service_kind: str
    provider_org_id: str
    first_due_at: datetime
    service_response_timeframe: str | None = None
    interval_days: int | None = None
    sessions_planned: int | None = None
    planned_at: datetime


class Service(ServiceFields):
    service_id: str
    spl_type: str
    planned_by: str


# The ``...Fields`` bases are what a reader of the case sees (intake's response schemas extend them);
# the aggregate adds who did it where that stays inside the service.
class SessionFields(_Model):
    session_id: str
    service_id: str
    outcome: str
    occurred_at: datetime
    missed_reason: str | None = None
    recorded_at: datetime
    recorded_by: str


class Session(SessionFields):
    recorded_by_org: str | None = None


class RiskFlagFields(_Model):
    flag_id: str
    kind: str
    severity: str
    observed_at: datetime | None = None
    raised_at: datetime
    raised_by_role: str


class RiskFlag(RiskFlagFields):
    raised_by: str


class FollowUp(_Model):
    followup_id: str
    kind: str
    planned_date: date
    done_date: date | None = None
    outcome: str | None = None
    planned_at: datetime
    recorded_at: datetime | None = None


class ReferralChange(_Model):
    status: str
    at: datetime
    by: str
    org: str | None = None


class ReferralFields(_Model):
    referral_id: str
    from_org_id: str
    to_org_id: str
    service_kind: str | None = None
    status: str
    consent_override: bool = False
    created_at: datetime
    updated_at: datetime


class Referral(ReferralFields):
    history: list[ReferralChange] = Field(default_factory=list)


class ReintegrationFields(_Model):
    outcome_id: str
    domain: str
    status: str
    effective_date: date
    recorded_at: datetime
    recorded_by_role: str


class ReintegrationOutcome(ReintegrationFields):
    recorded_by: str


class ProsecutorRefs(_Model):
    """The prosecutor's and court's numbers of the case (normalised: ``domain.prosecution``)."""

    carpeta_fiscal: str
    office: str
    expediente: str | None = None
    shared_with_systems: list[str] = Field(default_factory=list)
    set_at: datetime
    set_by: str

    def same_as(self, other: ProsecutorRefs | None) -> bool:
        return other is not None and self.model_dump(exclude={"set_at", "set_by"}) == other.model_dump(
            exclude={"set_at", "set_by"}
        )


class Case(_Model):
    case_id: str
    version: int = 1
    org_id: str
    status: str = "Active"
    advocate_id: str | None = None
    referring_org_id: str | None = None
    trafficking_status: str | None = None
    exploitation_types: list[str] = Field(default_factory=list)
    methods_of_control: list[str] = Field(default_factory=list)
    region: str | None = None
    # coded place (domain.places): usable in events and reports; the free text is in ``protected``
    place_of_exploitation_code: str | None = None
    # coded, generalised quasi-identifiers (registration_codes): they travel in case.registered for
    # the anonymised export; the identity they come from stays encrypted in ``identity``
    sex: str | None = None
    age_band: str | None = None
    citizenship: str | None = None
    rescue_date: date | None = None
    consent_for_services: bool = False
    consent_reporting: bool = False
    person_ref: str | None = None
    linked_case_ids: list[str] = Field(default_factory=list)
    # field name -> {"kid", "nonce", "ct"}: ciphertext only, never plaintext
    identity: dict[str, dict[str, str]] = Field(default_factory=dict)
    # the case's free-text quasi-identifiers (PROTECTED_FIELDS), ciphertext like identity
    protected: dict[str, dict[str, str]] = Field(default_factory=dict)
    registered_at: datetime
    registered_by: str
    updated_at: datetime
    services: list[Service] = Field(default_factory=list)
    sessions: list[Session] = Field(default_factory=list)
    risk_flags: list[RiskFlag] = Field(default_factory=list)
    followups: list[FollowUp] = Field(default_factory=list)
    referrals: list[Referral] = Field(default_factory=list)
    prosecutor_refs: ProsecutorRefs | None = None
    reintegration: list[ReintegrationOutcome] = Field(default_factory=list)

    # Cases stored with the earlier words read as HTCDS values (written back at their next change).
    _status = field_validator("trafficking_status", mode="before")(htcds.trafficking_status)
    _control = field_validator("methods_of_control", mode="before")(htcds.methods_of_control)

    @property
    def closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    def service(self, service_id: str) -> Service:
        for s in self.services:
            if s.service_id == service_id:
                return s
        raise NotFound("service not found")

    def followup(self, followup_id: str) -> FollowUp:
        for f in self.followups:
            if f.followup_id == followup_id:
                return f
        raise NotFound("follow-up not found")

    def referral(self, referral_id: str) -> Referral:
        for r in self.referrals:
            if r.referral_id == referral_id:
                return r
        raise NotFound("referral not found")

    def provider_orgs(self) -> set[str]:
        return {s.provider_org_id for s in self.services}

    def reintegration_status(self) -> dict[str, ReintegrationOutcome]:
        """The current outcome of each domain: the latest by effective date (then by recording)."""
        current: dict[str, ReintegrationOutcome] = {}
        for o in sorted(self.reintegration, key=lambda o: (o.effective_date, o.recorded_at)):
            current[o.domain] = o
        return current


Change = tuple[Case, list[EventPayload]]


def _next(case: Case, now: datetime, **update: Any) -> Case:
    return case.model_copy(update={**update, "version": case.version + 1, "updated_at": now}, deep=True)


# --- coded quasi-identifiers (the privacy rule of the anonymised export) ---------------------------
# Only these leave the identity, and only coded and generalised: the sex as recorded (never
# "unknown"), the age band on the day of registration (never the birth date or the exact age) and
# the citizenship as ISO 3166-1 alpha-2. Names, documents, contacts and the birth date never do.
_ALPHA2_RE = re.compile(COUNTRY_ALPHA2_PATTERN)
# alpha-3 -> alpha-2 from CLDR (babel): PER -> PE, VEN -> VE ...
_ALPHA3 = {k: v[0] for k, v in get_global("territory_aliases").items() if len(k) == 3 and k.isalpha() and v}
# CLDR's two-letter codes that are not a country (unknown region, EU, the UN, outlying Oceania ...)
_NOT_COUNTRIES = frozenset({"ZZ", "EU", "EZ", "UN", "QO", "XA", "XB"})
_COUNTRIES = frozenset(k for k in map(str, Locale("en").territories) if _ALPHA2_RE.match(k)) - _NOT_COUNTRIES


def age_band(birth: date, on: date) -> str:
    """The band (``AGE_BANDS``) of the age in whole years on ``on``."""
    years = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    if years < 0:
        raise ValueError("birth date after the day of registration")
    return AGE_BANDS[0] if years <= 8 else AGE_BANDS[1] if years <= 17 else AGE_BANDS[2]


def citizenship_code(nationality: str | None) -> str | None:
    """ISO 3166-1 alpha-2 of an alpha-2 or alpha-3 nationality; None when it names no country."""
    if not nationality:
        return None
    code = nationality.upper()
    code = _ALPHA3.get(code, code) if len(code) == 3 else code
    return code if code in _COUNTRIES else None


def registration_codes(identity: dict[str, Any] | None, on: date) -> dict[str, str | None]:
    """The Case fields ``sex``, ``age_band`` and ``citizenship`` from the identity block being
    registered (its JSON form: ``birth_date`` an ISO date), as of the day of registration ``on``."""
    identity = identity or {}
    sex = identity.get("sex")
    birth = identity.get("birth_date")
    if isinstance(birth, str):
        birth = date.fromisoformat(birth)
    band = age_band(birth, on) if isinstance(birth, date) and birth <= on else None
    return {
        "sex": sex if sex in SEXES else None,
        "age_band": band,
        "citizenship": citizenship_code(identity.get("nationality")),
    }


# --- rules ----------------------------------------------------------------------------------------
def register(case: Case, previous_case_ids: list[str], now: datetime) -> list[EventPayload]:
    """Facts of a new registration; a known person_ref adds the re-registration fact (revictimisation)."""
    events: list[EventPayload] = [
        CaseRegistered(
            case_id=case.case_id,
            org_id=case.org_id,
            advocate_id=case.advocate_id,
            status=case.status,
            exploitation_types=list(case.exploitation_types),
            region=case.region,
            place_of_exploitation_code=case.place_of_exploitation_code,
            rescue_date=case.rescue_date,
            person_ref=case.person_ref,
            consent_for_services=case.consent_for_services,
            registered_at=now,
            sex=case.sex,
            age_band=case.age_band,
            citizenship=case.citizenship,
        )
    ]
    if case.person_ref and previous_case_ids:
        events.append(
            PersonReregistered(
                case_id=case.case_id,
                person_ref=case.person_ref,
                previous_case_ids=sorted(previous_case_ids),
                detected_at=now,
            )
        )
    return events


def earlier_case_notices(case: Case, earlier: dict[str, str], now: datetime) -> dict[str, list[EventPayload]]:
    """The fact told to each earlier case of the same person (earlier case id -> owning org), so its
    advocate hears of the re-registration. The new case is named only within one organisation."""
    if not case.person_ref:
        return {}
    return {
        earlier_id: [
            CasePersonReregistered(
                case_id=earlier_id,
                org_id=earlier_org,
                new_case_org_id=case.org_id,
                new_case_id=case.case_id if earlier_org == case.org_id else None,
                person_ref=case.person_ref,
                detected_at=now,
            )
        ]
        for earlier_id, earlier_org in sorted(earlier.items())
    }


# Free text that can identify a child although it is not identity: encrypted at rest (key ids and keys of
# identity), shown only to who may read the case, never in an event (only its field name).
PROTECTED_FIELDS = ("place_of_exploitation",)
UPDATABLE_FIELDS = (
    "trafficking_status",
    "exploitation_types",
    "methods_of_control",
    "region",
    "place_of_exploitation_code",
    "referring_org_id",
    "consent_for_services",
    "consent_reporting",
)


def update_case(case: Case, changes: dict[str, Any], now: datetime) -> Change:
    """Apply a PATCH. Status and advocate changes are their own facts; the rest is ``case.updated``."""
    events: list[EventPayload] = []
    update: dict[str, Any] = {}
    plain_changed = []
    for name in UPDATABLE_FIELDS:
        if name in changes and changes[name] != getattr(case, name):
            update[name] = changes[name]
            plain_changed.append(name)
    # Protected fields arrive as ciphertext (or None to remove); the caller drops an unchanged value.
    protected = dict(case.protected)
    for name in PROTECTED_FIELDS:
        if name in changes:
            if changes[name] is None:
                protected.pop(name, None)
            else:
                protected[name] = changes[name]
            plain_changed.append(name)
    if protected != case.protected:
        update["protected"] = protected
    if "advocate_id" in changes and changes["advocate_id"] != case.advocate_id:
        if changes["advocate_id"] is None:
            raise InvalidInput("advocate_id", "advocate_id cannot be removed; reassign it to another advocate instead")
        update["advocate_id"] = changes["advocate_id"]
        events.append(
            AdvocateAssigned(
                case_id=case.case_id,
                advocate_id=changes["advocate_id"],
                previous_advocate_id=case.advocate_id,
                org_id=case.org_id,
                assigned_at=now,
            )
        )
    if "status" in changes and changes["status"] != case.status:
        new_status = changes["status"]
        update["status"] = new_status
        events.append(
            CaseStatusChanged(
                case_id=case.case_id,
                previous_status=case.status,
                status=new_status,
                changed_at=now,
            )
        )
        if new_status in CLOSED_STATUSES and not case.closed:
            events.append(CaseClosed(case_id=case.case_id, status=new_status, closed_at=now))
    if plain_changed:
        code_changed = "place_of_exploitation_code" in plain_changed
        events.insert(
            0,
            CaseUpdated(
                case_id=case.case_id,
                changed_fields=plain_changed,
                updated_at=now,
                place_of_exploitation_code=update.get("place_of_exploitation_code") if code_changed else None,
            ),
        )
    if not events:
        return case, []
    return _next(case, now, **update), events


def first_due(
    first_due_at: datetime | None, timeframe: str | None, planned_at: datetime
) -> tuple[datetime, str | None]:
    if first_due_at is not None and timeframe is not None:
        raise InvalidInput("first_due_at", "give either first_due_at or service_response_timeframe, not both")
    if first_due_at is not None:
        return first_due_at.astimezone(UTC), None
    if timeframe is not None:
        return planned_at + TIMEFRAMES[timeframe], timeframe
    raise InvalidInput("first_due_at", "first_due_at or service_response_timeframe is required", "missing")


def plan_service(
    case: Case,
    *,
    service_kind: str,
    spl_type: str | None,
    provider_org_id: str,
    first_due_at: datetime | None,
    timeframe: str | None,
    interval_days: int | None,
    sessions_planned: int | None,
    actor: str,
    now: datetime,
    max_services: int,
) -> tuple[Case, Service, list[EventPayload]]:
    allowed = KIND_TO_SPL[service_kind]
    spl = spl_type or allowed[0]
    if spl not in allowed:
        raise InvalidInput(
            "spl_Type", f"spl_Type {spl} does not fit service_kind {service_kind}; use one of {list(allowed)}"
        )
    if sessions_planned is not None and sessions_planned > 1 and interval_days is None:
        raise InvalidInput(
            "interval_days", "interval_days is required when more than one session is planned", "missing"
        )
    due, tf = first_due(first_due_at, timeframe, now)
    if case.closed:
        raise RuleViolation(f"the case is {case.status}; reopen it before planning services")
    if len(case.services) >= max_services:
        raise LimitExceeded(f"a case holds at most {max_services} services")
    service = Service(
        service_id=new_id("sv", 12),
        spl_type=spl,
        service_kind=service_kind,
        provider_org_id=provider_org_id,
        first_due_at=due,
        service_response_timeframe=tf,
        interval_days=interval_days,
        sessions_planned=sessions_planned,
        planned_at=now,
        planned_by=actor,
    )
    event = ServicePlanned(case_id=case.case_id, **service.model_dump(exclude={"planned_by"}))
    return _next(case, now, services=[*case.services, service]), service, [event]


def record_session(
    case: Case,
    service_id: str,
    *,
    outcome: str,
    occurred_at: datetime,
    missed_reason: str | None,
    actor: str,
    actor_org: str | None,
    now: datetime,
    max_sessions: int,
) -> tuple[Case, Session, list[EventPayload]]:
    service = case.service(service_id)
    if missed_reason is not None and outcome == "attended":
        raise InvalidInput("missed_reason", "missed_reason only applies to missed or cancelled sessions")
    if len(case.sessions) >= max_sessions:
        raise LimitExceeded(f"a case holds at most {max_sessions} sessions")
    occurred = occurred_at.astimezone(UTC)
    if case.rescue_date and occurred.date() < case.rescue_date:
        raise RuleViolation("occurred_at is before the case's rescue_date")
    session = Session(
        session_id=new_id("ss", 12),
        service_id=service_id,
        outcome=outcome,
        occurred_at=occurred,
        missed_reason=missed_reason,
        recorded_at=now,
        recorded_by=actor,
        recorded_by_org=actor_org,
    )
    event = SessionRecorded(
        case_id=case.case_id,
        service_id=service_id,
        session_id=session.session_id,
        service_kind=service.service_kind,
        outcome=outcome,
        occurred_at=occurred,
        recorded_at=now,
        provider_org_id=service.provider_org_id,
        missed_reason=missed_reason,
    )
    return _next(case, now, sessions=[*case.sessions, session]), session, [event]


def raise_flag(
    case: Case,
    *,
    kind: str,
    severity: str,
    observed_at: datetime | None,
    actor: str,
    role: str,
    now: datetime,
    max_items: int,
) -> tuple[Case, RiskFlag, list[EventPayload]]:
    if len(case.risk_flags) >= max_items:
        raise LimitExceeded(f"a case holds at most {max_items} risk flags")
    flag = RiskFlag(
        flag_id=new_id("rf", 12),
        kind=kind,
        severity=severity,
        observed_at=observed_at.astimezone(UTC) if observed_at else None,
        raised_at=now,
        raised_by=actor,
        raised_by_role=role,
    )
    event = RiskFlagged(case_id=case.case_id, **flag.model_dump(exclude={"raised_by", "raised_by_role"}))
    return _next(case, now, risk_flags=[*case.risk_flags, flag]), flag, [event]


def plan_followup(
    case: Case,
    *,
    kind: str,
    planned_date: date,
    done_date: date | None,
    outcome: str | None,
    now: datetime,
    max_items: int,
) -> tuple[Case, FollowUp, list[EventPayload]]:
    if (done_date is None) != (outcome is None):
        missing = "outcome" if outcome is None else "done_date"
        raise InvalidInput(missing, "done_date and outcome go together", "missing")
    if len(case.followups) >= max_items:
        raise LimitExceeded(f"a case holds at most {max_items} follow-ups")
    followup = FollowUp(
        followup_id=new_id("fu", 12),
        kind=kind,
        planned_date=planned_date,
        planned_at=now,
        done_date=done_date,
        outcome=outcome,
        recorded_at=now if done_date else None,
    )
    events: list[EventPayload] = [
        FollowUpPlanned(
            case_id=case.case_id, followup_id=followup.followup_id, planned_date=planned_date, kind=kind, planned_at=now
        )
    ]
    if done_date is not None and outcome is not None:
        events.append(
            FollowUpRecorded(
                case_id=case.case_id,
                followup_id=followup.followup_id,
                done_date=done_date,
                outcome=outcome,
                recorded_at=now,
            )
        )
    return _next(case, now, followups=[*case.followups, followup]), followup, events


def record_followup(
    case: Case, followup_id: str, *, done_date: date, outcome: str, now: datetime
) -> tuple[Case, FollowUp, list[EventPayload]]:
    current = case.followup(followup_id)
    if current.done_date is not None:
        raise RuleViolation("this follow-up is already recorded")
    done = current.model_copy(update={"done_date": done_date, "outcome": outcome, "recorded_at": now})
    followups = [done if f.followup_id == followup_id else f for f in case.followups]
    event = FollowUpRecorded(
        case_id=case.case_id, followup_id=followup_id, done_date=done_date, outcome=outcome, recorded_at=now
    )
    return _next(case, now, followups=followups), done, [event]


def refer(
    case: Case,
    *,
    to_org_id: str,
    service_kind: str | None,
    consent_override: bool,
    actor: str,
    now: datetime,
    max_items: int,
) -> tuple[Case, Referral, list[EventPayload]]:
    """Open a referral. Without ``consent_for_services`` only a (audited) supervisor override lets it through."""
    if not case.consent_for_services and not consent_override:
        raise RuleViolation(
            "consent_for_services is not given for this case; a supervisor may override with consent_override_reason"
        )
    if to_org_id == case.org_id:
        raise RuleViolation("to_org_id is the case's own organisation")
    if case.closed:
        raise RuleViolation(f"the case is {case.status}; reopen it before referring")
    if len(case.referrals) >= max_items:
        raise LimitExceeded(f"a case holds at most {max_items} referrals")
    referral = Referral(
        referral_id=new_id("rr", 12),
        from_org_id=case.org_id,
        to_org_id=to_org_id,
        service_kind=service_kind,
        status="in_progress",
        consent_override=consent_override and not case.consent_for_services,
        created_at=now,
        updated_at=now,
        history=[ReferralChange(status="in_progress", at=now, by=actor, org=case.org_id)],
    )
    event = _referral_changed(case, referral, previous_status=None)
    return _next(case, now, referrals=[*case.referrals, referral]), referral, [event]


def _referral_changed(case: Case, referral: Referral, previous_status: str | None) -> ReferralStatusChanged:
    """The fact of a referral's new status (``referral`` as it is after the change)."""
    return ReferralStatusChanged(
        case_id=case.case_id,
        referral_id=referral.referral_id,
        from_org_id=referral.from_org_id,
        to_org_id=referral.to_org_id,
        status=referral.status,
        previous_status=previous_status,
        changed_at=referral.updated_at,
        consent_override=referral.consent_override,
    )


def change_referral(
    case: Case, referral_id: str, *, status: str, actor: str, actor_org: str | None, now: datetime
) -> tuple[Case, Referral, list[EventPayload]]:
    current = case.referral(referral_id)
    if status not in REFERRAL_TRANSITIONS[current.status]:
        raise RuleViolation(f"referral cannot go from {current.status} to {status}")
    if status in RECEIVER_STATUSES and actor_org != current.to_org_id:
        raise RuleViolation(f"only the receiving organisation may set {status}")
    if status in SENDER_STATUSES and actor_org != current.from_org_id:
        raise RuleViolation(f"only the referring organisation may set {status}")
    changed = current.model_copy(
        update={
            "status": status,
            "updated_at": now,
            "history": [*current.history, ReferralChange(status=status, at=now, by=actor, org=actor_org)],
        },
        deep=True,
    )
    referrals = [changed if r.referral_id == referral_id else r for r in case.referrals]
    event = _referral_changed(case, changed, previous_status=current.status)
    return _next(case, now, referrals=referrals), changed, [event]


def set_prosecutor_refs(
    case: Case,
    *,
    carpeta_fiscal: str,
    office: str,
    expediente: str | None,
    shared_with_systems: list[str],
    actor: str,
    role: str,
    now: datetime,
) -> tuple[Case, ProsecutorRefs, list[EventPayload]]:
    """Set or replace the case's prosecutor references (values already normalised). Setting the same
    references again changes nothing and emits nothing; uniqueness per office is the store's index."""
    refs = ProsecutorRefs(
        carpeta_fiscal=carpeta_fiscal,
        office=office,
        expediente=expediente,
        shared_with_systems=sorted(set(shared_with_systems)),
        set_at=now,
        set_by=actor,
    )
    previous = case.prosecutor_refs
    if previous is not None and refs.same_as(previous):
        return case, previous, []
    event = ProsecutorRefsSet(
        case_id=case.case_id,
        org_id=case.org_id,
        carpeta_fiscal=carpeta_fiscal,
        office=office,
        expediente=expediente,
        shared_with_systems=refs.shared_with_systems,
        previous_carpeta_fiscal=previous.carpeta_fiscal if previous else None,
        previous_office=previous.office if previous else None,
        set_at=now,
        set_by_role=role,
    )
    return _next(case, now, prosecutor_refs=refs), refs, [event]


def record_reintegration(
    case: Case,
    *,
    domain: ReintegrationDomain,
    status: str,
    effective_date: date,
    actor: str,
    role: str,
    now: datetime,
    max_items: int,
) -> tuple[Case, ReintegrationOutcome, list[EventPayload]]:
    allowed = REINTEGRATION_STATUSES.get(domain)
    if allowed is None or status not in allowed:
        raise InvalidInput("status", f"status for {domain} must be one of {list(allowed or ())}", "status_for_domain")
    if len(case.reintegration) >= max_items:
        raise LimitExceeded(f"a case holds at most {max_items} reintegration outcomes")
    previous = case.reintegration_status().get(domain)
    outcome = ReintegrationOutcome(
        outcome_id=new_id("ro", 12),
        domain=domain,
        status=status,
        effective_date=effective_date,
        recorded_at=now,
        recorded_by=actor,
        recorded_by_role=role,
    )
    event = ReintegrationRecorded(
        case_id=case.case_id,
        org_id=case.org_id,
        previous_status=previous.status if previous else None,
        **outcome.model_dump(exclude={"recorded_by", "recorded_by_role"}),
    )
    return _next(case, now, reintegration=[*case.reintegration, outcome]), outcome, [event]
