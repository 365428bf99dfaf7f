"""Request and response bodies of the intake API (distinct from the Mongo documents and events).

Requests forbid unknown fields. Validation messages name the field and the rule, never the
value: identity fields are personal data. Every date is bounded (``shared.bounds``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from services.intake.domain import htcds, places, prosecution
from services.intake.domain.model import (
    REINTEGRATION_STATUSES,
    CaseStatus,
    ExploitationType,
    FollowUpKind,
    FollowUpOutcome,
    MethodOfControl,
    MissedReason,
    ProsecutorRefs,
    ReferralFields,
    ReferralStatus,
    ReintegrationDomain,
    ReintegrationFields,
    ResponseTimeframe,
    RiskFlagFields,
    RiskKind,
    RiskSeverity,
    ServiceFields,
    ServiceKind,
    SessionFields,
    SessionOutcome,
    SplType,
    TraffickingStatus,
)
from shared import vocab
from shared.bounds import FutureDate, FutureDatetime, PastDate, PastDatetime


def _unique(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat a value")
    return values


# Dates: the documented range of shared.bounds (1900-01-01 .. 5 years ahead; "happened" means not in
# the future), converted to UTC inside validation so an extreme offset is a 422, never a 500.
BirthDate = PastDate
Ident = Annotated[str, StringConstraints(pattern=vocab.EXTERNAL_ID_PATTERN)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=500)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=2000)


# --- identity (encrypted at rest, never in events, logs or errors) ------------------------------
class IdentityDocument(Strict):
    type: Literal["DNI", "CE", "passport", "birth_certificate", "other"]
    number: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ./-]{0,39}$")]
    issuing_country: Annotated[str, StringConstraints(pattern=vocab.COUNTRY_PATTERN)] | None = None


class Contact(Strict):
    kind: Literal["phone", "email", "address", "guardian", "other"]
    value: Name


class Identity(Strict):
    given_names: Name | None = None
    family_names: Name | None = None
    birth_date: BirthDate | None = Field(
        None, description="encrypted; only the age band on the day of registration (0-8, 9-17, 18+) leaves intake"
    )
    sex: Literal["female", "male", "other", "unknown"] | None = Field(
        None, description="encrypted; the code (never unknown) also travels in centinela.case.registered"
    )
    nationality: Annotated[str, StringConstraints(pattern=vocab.COUNTRY_PATTERN)] | None = Field(
        None,
        description="ISO 3166-1 alpha-2 or alpha-3, encrypted; its alpha-2 code travels in centinela.case.registered",
    )
    documents: list[IdentityDocument] = Field(default_factory=list, max_length=10)
    contacts: list[Contact] = Field(default_factory=list, max_length=10)


# --- cases ------------------------------------------------------------------------------------------
Region = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[\w][\w .'-]{0,63}$")]
Place = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
PlaceCode = Annotated[str, StringConstraints(max_length=16), AfterValidator(places.normalise_place_code)]
ExploitationList = Annotated[
    list[ExploitationType], Field(max_length=len(vocab.EXPLOITATION_TYPES)), AfterValidator(_unique)
]
# HTCDS 2.0 values; the earlier words are accepted and translated first (domain.htcds)
ControlList = Annotated[
    list[MethodOfControl],
    BeforeValidator(htcds.methods_of_control),
    Field(max_length=len(htcds.METHODS_OF_CONTROL)),
    AfterValidator(_unique),
]
Trafficking = Annotated[TraffickingStatus, BeforeValidator(htcds.trafficking_status)]


class CaseCreate(Strict):
    identity: Identity | None = None
    trafficking_status: Trafficking | None = None
    exploitation_types: ExploitationList = Field(default_factory=list)
    methods_of_control: ControlList = Field(default_factory=list)
    region: Region | None = None
    place_of_exploitation: Place | None = Field(
        None, description="free text, encrypted at rest; shown only to who may read the case, never in events"
    )
    place_of_exploitation_code: PlaceCode | None = Field(
        None,
        description=f"coded place for events and reports (UBIGEO or ISO 3166-2), e.g. {places.EXAMPLE}",
    )
    rescue_date: PastDate | None = None
    referring_org_id: Ident | None = None
    org_id: Ident | None = Field(None, description="owning organisation; defaults to (and must equal) the caller's")
    advocate_id: Ident | None = None
    consent_for_services: bool = False
    consent_reporting: bool = False


class CasePatch(Strict):
    status: CaseStatus | None = None
    advocate_id: Ident | None = None
    trafficking_status: Trafficking | None = None
    exploitation_types: ExploitationList | None = None
    methods_of_control: ControlList | None = None
    region: Region | None = None
    place_of_exploitation: Place | None = None
    place_of_exploitation_code: PlaceCode | None = None
    referring_org_id: Ident | None = None
    consent_for_services: bool | None = None
    consent_reporting: bool | None = None
    expected_version: int | None = Field(None, ge=1, le=999_999_999, description="alternative to the If-Match header")

    @model_validator(mode="after")
    def _something(self) -> CasePatch:
        if not (self.model_fields_set - {"expected_version"}):
            raise ValueError("no field to change")
        for name in ("status", "consent_for_services", "consent_reporting"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ServiceCreate(Strict):
    service_kind: ServiceKind
    spl_Type: SplType | None = Field(None, description="HTCDS support type; defaults from service_kind")  # noqa: N815
    provider_org_id: Ident
    first_due_at: FutureDatetime | None = Field(None, description="first session due; or give a timeframe")
    service_response_timeframe: ResponseTimeframe | None = Field(None, description="Primero timeframe from now")
    interval_days: int | None = Field(None, ge=1, le=365, description="recurrence: a session every N days")
    sessions_planned: int | None = Field(None, ge=1, le=500)

    @model_validator(mode="after")
    def _due(self) -> ServiceCreate:
        if (self.first_due_at is None) == (self.service_response_timeframe is None):
            raise ValueError("give exactly one of first_due_at and service_response_timeframe")
        if self.first_due_at is not None:
            now = datetime.now(UTC)
            if not (now - timedelta(days=365) <= self.first_due_at <= now + timedelta(days=730)):
                raise ValueError("first_due_at must be within a year back and two years ahead")
        return self


class SessionCreate(Strict):
    outcome: SessionOutcome
    occurred_at: PastDatetime
    missed_reason: MissedReason | None = None


class RiskFlagCreate(Strict):
    kind: RiskKind
    severity: RiskSeverity
    observed_at: PastDatetime | None = None


class FollowUpCreate(Strict):
    kind: FollowUpKind = "reintegration"
    followup_needed_by_date: FutureDate = Field(description="Primero's name for the planned date")
    done_date: PastDate | None = None
    outcome: FollowUpOutcome | None = None


class FollowUpRecord(Strict):
    done_date: PastDate
    outcome: FollowUpOutcome


class ReferralCreate(Strict):
    to_org_id: Ident
    service_kind: ServiceKind | None = None
    consent_override_reason: Reason | None = Field(
        None, description="supervisors only: refer without consent_for_services (audited)"
    )


class ReferralPatch(Strict):
    status: ReferralStatus


# --- prosecutor's references (normalised before validation: spaces dropped, upper case) -------------
Carpeta = Annotated[str, StringConstraints(max_length=64), AfterValidator(prosecution.normalise_carpeta)]
Office = Annotated[str, StringConstraints(max_length=64), AfterValidator(prosecution.normalise_office)]
Expediente = Annotated[str, StringConstraints(max_length=64), AfterValidator(prosecution.normalise_expediente)]
SystemList = Annotated[list[Ident], Field(max_length=10), AfterValidator(_unique)]


class ProsecutorRefsIn(Strict):
    carpeta_fiscal: Carpeta = Field(description=f"carpeta fiscal number, e.g. {prosecution.CARPETA_EXAMPLE}")
    office: Office = Field(description=f"prosecutor office code, e.g. {prosecution.OFFICE_EXAMPLE}")
    expediente: Expediente | None = Field(None, description=f"court file, e.g. {prosecution.EXPEDIENTE_EXAMPLE}")
    shared_with_systems: SystemList = Field(
        default_factory=list,
        description="court integrators (their token's source_system) that may resolve this carpeta to the case",
    )


# --- reintegration outcomes ---------------------------------------------------------------------------
class ReintegrationCreate(Strict):
    domain: ReintegrationDomain
    status: str = Field(
        max_length=32,
        description="; ".join(f"{k}: {', '.join(v)}" for k, v in REINTEGRATION_STATUSES.items()),
    )
    effective_date: PastDate = Field(description="when it became true (not in the future)")

    @model_validator(mode="after")
    def _fits(self) -> ReintegrationCreate:
        if self.status not in REINTEGRATION_STATUSES[self.domain]:
            raise PydanticCustomError(
                "status_for_domain",
                "status for {domain} must be one of {allowed}",
                {"domain": self.domain, "allowed": list(REINTEGRATION_STATUSES[self.domain])},
            )
        return self


# --- case documents ---------------------------------------------------------------------------------
DocTitle = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# --- responses ---------------------------------------------------------------------------------------
class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FieldError(Out):
    field: str = Field(description="where: body.spl_Type, query.limit, header.If-Match ...")
    type: str
    msg: str


class Refusal(Out):
    """What intake answers when it refuses: a sentence, or the fields at fault in the shape of a 422;
    never a submitted value (it may be personal data)."""

    detail: str | list[FieldError]


class ServiceOut(ServiceFields, Out):
    service_id: str
    spl_Type: str  # noqa: N815


class SessionOut(SessionFields, Out):
    pass


class RiskFlagOut(RiskFlagFields, Out):
    pass


class FollowUpOut(Out):
    followup_id: str
    kind: str
    followup_needed_by_date: date
    done_date: date | None = None
    outcome: str | None = None


class ReferralOut(ReferralFields, Out):
    pass


class CaseSummary(Out):
    case_id: str
    version: int
    org_id: str
    status: str
    advocate_id: str | None = None
    region: str | None = None
    exploitation_types: list[str] = Field(default_factory=list)
    rescue_date: date | None = None
    registered_at: datetime


class CaseOut(CaseSummary):
    view: Literal["full", "provider"]
    trafficking_status: str | None = None
    methods_of_control: list[str] = Field(default_factory=list)
    place_of_exploitation: str | None = None
    place_of_exploitation_code: str | None = None
    referring_org_id: str | None = None
    consent_for_services: bool | None = None
    consent_reporting: bool | None = None
    person_ref: str | None = None
    linked_case_ids: list[str] | None = Field(
        None, description="cases of the same person in this case's organisation (other organisations: never named)"
    )
    known_elsewhere: bool | None = Field(None, description="the same person has a case in another organisation")
    updated_at: datetime
    services: list[ServiceOut] = Field(default_factory=list)
    sessions: list[SessionOut] = Field(default_factory=list)
    risk_flags: list[RiskFlagOut] | None = None
    followups: list[FollowUpOut] | None = None
    referrals: list[ReferralOut] | None = None
    prosecutor_refs: ProsecutorRefsOut | None = None
    reintegration: list[ReintegrationOut] | None = None
    identity: dict[str, Any] | None = Field(None, description="only with include_identity=true for allowed roles")


class ReintegrationOut(ReintegrationFields, Out):
    pass


class ReintegrationList(Out):
    items: list[ReintegrationOut] = Field(description="every outcome, by effective date")
    current: dict[str, ReintegrationOut] = Field(description="each domain's latest outcome by effective date")


class ProsecutorRefsOut(ProsecutorRefs, Out):
    pass


class DocumentOut(Out):
    doc_id: str
    category: str
    media_type: str
    size: int
    title: str | None = Field(None, description="encrypted at rest")
    filename: str | None = Field(None, description="as uploaded; encrypted at rest")
    uploaded_at: datetime
    uploaded_by: str
    uploaded_by_role: str
    uploaded_by_org: str | None = None


class CaseRef(Out):
    case_id: str


class CaseCreated(Out):
    case_id: str
    version: int
    person_ref_known: bool = Field(description="true when the same person already had a case, in any organisation")
    known_elsewhere: bool = Field(
        description="true when one of those cases belongs to another organisation (its id is not shown)"
    )
    linked_case_ids: list[str] = Field(description="the earlier cases of your own organisation")


_NEXT_CURSOR = (
    "pass as `cursor` for the next page (same filters); null on the last page. Pages are keyed on the "
    "item's time and id, so items added while you walk them never repeat or shift an item"
)
_TOTAL = "items matching the filters: counted on the first page (no `cursor`), or when `total=true`; null otherwise"


class CasePage(Out):
    items: list[CaseSummary]
    limit: int = Field(description="the page size asked for")
    next_cursor: str | None = Field(None, description=_NEXT_CURSOR)
    total: int | None = Field(None, description=_TOTAL)


class Stats(Out):
    scope: str
    cases_total: int
    cases_by_status: dict[str, int]
