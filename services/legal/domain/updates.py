"""The court update format integrators send (REST body item or Kafka message value).

Closed on purpose: every model forbids unknown fields, ids are code-like and free text does not
exist (reasons, measures and notification subjects are snake_case codes), so a court system
cannot leak a child's name, birth date or address into centinela through this door.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from services.legal.domain.bounds import When
from services.legal.domain.errors import InvalidUpdate
from services.legal.domain.stages import Complexity, ProcessStage

__all__ = ["KINDS", "CourtUpdate", "InvalidUpdate", "When", "dump_update", "parse_update", "schema_examples"]
Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
# A citation, not prose: an optional code of law, then the article(s), e.g. "CPP art. 342.1".
LegalBasis = Annotated[
    str,
    Field(
        min_length=5,
        max_length=64,
        pattern=r"^([A-Za-z][A-Za-z0-9.]*( [A-Za-z0-9.]+){0,3} )?arts?\. ?[0-9]+(\.[0-9]+)*[a-z]?"
        r"( ?[-,y] ?[0-9]+(\.[0-9]+)*[a-z]?)*$",
    ),
]


class _Update(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source_system: Id
    update_id: Id
    case_id: Id
    occurred_at: When

    @property
    def key(self) -> str:
        """The idempotency key: ``|`` cannot appear in an :data:`Id`, so keys never collide."""
        return f"{self.source_system}|{self.update_id}"


class StageChangedUpdate(_Update):
    kind: Literal["stage_changed"]
    stage: ProcessStage
    complexity: Complexity | None = None
    # the first update of a case brought in from an existing caseload: it may start in any stage
    imported: Literal[True] | None = None


class DeadlineExtendedUpdate(_Update):
    """An extension of the current stage's deadline (e.g. art. 342.1), granted by someone, on a basis."""

    kind: Literal["deadline_extended"]
    granted_by: Code
    legal_basis: LegalBasis
    new_deadline: When | None = None
    extra_days: Annotated[int, Field(ge=1, le=3650)] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> DeadlineExtendedUpdate:
        if (self.new_deadline is None) == (self.extra_days is None):
            raise PydanticCustomError("one_of", "exactly one of new_deadline and extra_days")
        return self


class ComplexityDeclaredUpdate(_Update):
    """The prosecutor declares the case complex or organised crime (arts. 334.2, 342.2): the term changes."""

    kind: Literal["complexity_declared"]
    complexity: Complexity
    legal_basis: LegalBasis | None = None


class HearingScheduledUpdate(_Update):
    kind: Literal["hearing_scheduled"]
    hearing_id: Id
    scheduled_for: When


class HearingHeldUpdate(_Update):
    kind: Literal["hearing_held"]
    hearing_id: Id


class HearingPostponedUpdate(_Update):
    kind: Literal["hearing_postponed"]
    hearing_id: Id
    reason: Code
    new_date: When | None = None


class VictimNotifiedUpdate(_Update):
    kind: Literal["victim_notified"]
    about: Code = "general"


class VictimAttendedUpdate(_Update):
    kind: Literal["victim_attended"]
    hearing_id: Id


class VictimAbsentUpdate(_Update):
    kind: Literal["victim_absent"]
    hearing_id: Id


class RepresentationAssignedUpdate(_Update):
    kind: Literal["legal_representation_assigned"]
    representative_ref: Id | None = None


class _ExpiringUpdate(_Update):
    """An update with an ``expires_at``: it must come after the update itself."""

    @model_validator(mode="after")
    def _expiry(self) -> _ExpiringUpdate:
        expires_at = getattr(self, "expires_at", None)
        if expires_at is not None and expires_at <= self.occurred_at:
            raise PydanticCustomError("expires_after", "expires_at must be after occurred_at")
        return self


class ProtectiveMeasureGrantedUpdate(_ExpiringUpdate):
    """A protective measure ordered for the child. ``measure_id`` (default: the ``update_id``) names it for
    later renewals and ends; with ``expires_at`` the alerts watch its term (``harm.protective_measure_expired``)."""

    kind: Literal["protective_measure_granted"]
    measure: Code
    measure_id: Id | None = None
    expires_at: When | None = None


class ProtectiveMeasureRenewedUpdate(_ExpiringUpdate):
    """The court extended a protective measure granted before: its new end is ``expires_at``."""

    kind: Literal["protective_measure_renewed"]
    measure_id: Id
    expires_at: When


class ProtectiveMeasureEndedUpdate(_Update):
    """A protective measure lifted or ended by the court (no longer expected to be renewed)."""

    kind: Literal["protective_measure_ended"]
    measure_id: Id
    reason: Code | None = None


class ChildTestimonyUpdate(_Update):
    """The child's testimony was taken: in the single interview in a Cámara Gesell, or any other way
    (a second interview, a statement at a hearing). Watched by ``harm.second_testimony``."""

    kind: Literal["testimony_taken"]
    method: Literal["camara_gesell", "other"]


class VerdictIssuedUpdate(_Update):
    kind: Literal["verdict_issued"]
    outcome: Literal["conviction", "acquittal"]


class ReparationOrderedUpdate(_Update):
    kind: Literal["reparation_ordered"]
    amount: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    currency: Currency | None = None


class ReparationPaidUpdate(_Update):
    kind: Literal["reparation_paid"]
    amount: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    currency: Currency | None = None


class AppealFiledUpdate(_Update):
    kind: Literal["appeal_filed"]
    # a sentence's appeal moves the case to the appeal stage; an order's (auto) does not (CPP art. 414)
    against: Literal["sentence", "order"] | None = None


class CaseArchivedUpdate(_Update):
    kind: Literal["case_archived"]
    reason: Code


class CaseReopenedUpdate(_Update):
    kind: Literal["case_reopened"]
    reason: Code | None = None
    stage: ProcessStage | None = None


class ProvisionalReserveUpdate(_Update):
    """Reserva provisional (CPP art. 334.4 as modelled here): set aside until the offender is identified.

    The case is archived (disposition ``provisional_reserve``) and the victim's 5 days to ask for
    elevation (art. 334.5) run, as for an archive.
    """

    kind: Literal["provisional_reserve"]
    reason: Code = "offender_unidentified"


class OpportunityAppliedUpdate(_Update):
    """Principio de oportunidad (CPP art. 2): abstention before the prosecution (archive), or the
    judge's dismissal (art. 2.7, until the accusation is filed: the case becomes final)."""

    kind: Literal["principio_de_oportunidad"]
    legal_basis: LegalBasis | None = None


class ElevationRequestedUpdate(_Update):
    """The complainant or victim asks that the archive or reserve be elevated to the superior (art. 334.5)."""

    kind: Literal["elevation_requested"]


class ElevationDecidedUpdate(_Update):
    """The superior prosecutor's decision (art. 334.6): archive upheld, formalise, or go on investigating."""

    kind: Literal["elevation_decided"]
    outcome: Literal["archive_upheld", "formalise", "continue_investigation"]


class AccusationFiledUpdate(_Update):
    """The prosecutor's accusation (art. 349), the pronouncement art. 344.1 requires after the investigation."""

    kind: Literal["accusation_filed"]


class DismissalRequestedUpdate(_Update):
    """The prosecutor's request for sobreseimiento (art. 344.1/345), the other possible pronouncement."""

    kind: Literal["dismissal_requested"]


class TrialSuspendedUpdate(_Update):
    """A trial session suspended (art. 360.2): it must resume within the term of art. 360.3."""

    kind: Literal["trial_suspended"]
    reason: Code


class TrialResumedUpdate(_Update):
    kind: Literal["trial_resumed"]


class OrderIssuedUpdate(_Update):
    """A judicial order (auto) that may be appealed within the window of art. 414.1.b."""

    kind: Literal["order_issued"]
    order: Code


CourtUpdate = Annotated[
    StageChangedUpdate
    | DeadlineExtendedUpdate
    | ComplexityDeclaredUpdate
    | HearingScheduledUpdate
    | HearingHeldUpdate
    | HearingPostponedUpdate
    | VictimNotifiedUpdate
    | VictimAttendedUpdate
    | VictimAbsentUpdate
    | RepresentationAssignedUpdate
    | ProtectiveMeasureGrantedUpdate
    | ProtectiveMeasureRenewedUpdate
    | ProtectiveMeasureEndedUpdate
    | ChildTestimonyUpdate
    | VerdictIssuedUpdate
    | ReparationOrderedUpdate
    | ReparationPaidUpdate
    | AppealFiledUpdate
    | CaseArchivedUpdate
    | CaseReopenedUpdate
    | ProvisionalReserveUpdate
    | OpportunityAppliedUpdate
    | ElevationRequestedUpdate
    | ElevationDecidedUpdate
    | AccusationFiledUpdate
    | DismissalRequestedUpdate
    | TrialSuspendedUpdate
    | TrialResumedUpdate
    | OrderIssuedUpdate,
    Field(discriminator="kind"),
]

KINDS: tuple[str, ...] = (
    "stage_changed",
    "hearing_scheduled",
    "hearing_held",
    "hearing_postponed",
    "victim_notified",
    "victim_attended",
    "victim_absent",
    "legal_representation_assigned",
    "protective_measure_granted",
    "verdict_issued",
    "reparation_ordered",
    "reparation_paid",
    "appeal_filed",
    "case_archived",
    "case_reopened",
    "deadline_extended",
    "complexity_declared",
    "provisional_reserve",
    "principio_de_oportunidad",
    "elevation_requested",
    "elevation_decided",
    "accusation_filed",
    "dismissal_requested",
    "trial_suspended",
    "trial_resumed",
    "order_issued",
    "protective_measure_renewed",
    "protective_measure_ended",
    "testimony_taken",
)

_ADAPTER: TypeAdapter[CourtUpdate] = TypeAdapter(CourtUpdate)


def parse_update(raw: Any) -> CourtUpdate:
    if not isinstance(raw, dict):
        raise InvalidUpdate("update: must be a JSON object", errors=[_NOT_OBJECT])
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        raise InvalidUpdate(describe(exc), errors=field_errors(exc)) from None


_NOT_OBJECT = {"field": "update", "type": "model_type", "msg": "must be a JSON object"}


def dump_update(update: CourtUpdate) -> dict[str, Any]:
    """Python-mode dict (datetimes stay datetimes) for storage; :func:`parse_update` reads it back."""
    return update.model_dump(mode="python", exclude_none=True)


def describe(exc: ValidationError, limit: int = 5) -> str:
    """``field: what is wrong`` for each error; the tag of the union is dropped from the path."""
    return "; ".join(f"{e['field']}: {e['msg']}" for e in field_errors(exc, limit))


def field_errors(exc: ValidationError, limit: int = 5) -> list[dict[str, str]]:
    """One ``{field, type, msg}`` per error (the shape of the API's 422 detail); never the value."""
    out: list[dict[str, str]] = []
    for err in exc.errors()[:limit]:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in KINDS:
            loc = loc[1:]
        kind = err.get("type", "")
        name = ".".join(loc) or "update"
        if kind == "union_tag_not_found":
            name, msg = "kind", "missing"
        elif kind == "union_tag_invalid":
            name, msg = "kind", f"must be one of {', '.join(KINDS)}"
        elif kind == "extra_forbidden":
            msg = "unknown field (not part of the court update format)"
        elif kind == "missing":
            msg = "missing"
        elif kind == "timezone_aware":
            msg = "needs a timezone offset (e.g. 2025-03-01T10:00:00-05:00)"
        elif kind == "string_pattern_mismatch":
            msg = _pattern_hint(name)
        elif kind in ("literal_error", "enum"):
            msg = f"must be one of {(err.get('ctx') or {}).get('expected', '')}"
        else:
            msg = str(err.get("msg", kind))
        out.append({"field": name, "type": kind, "msg": msg})
    return out


def _pattern_hint(name: str) -> str:
    last = name.rsplit(".", 1)[-1]
    if last in ("reason", "measure", "about", "order"):
        return "must be a snake_case code (free text is not accepted)"
    if last == "currency":
        return "must be an ISO 4217 code such as PEN"
    if last == "legal_basis":
        return "must be a citation such as 'CPP art. 342.1' (free text is not accepted)"
    return "must be an identifier of letters, digits, '.', '_', ':' or '-'"


def schema_examples() -> dict[str, dict[str, Any]]:
    """One example per kind (OpenAPI and docs)."""
    base = {"source_system": "sgf-lima", "case_id": "c-7f3a9e", "occurred_at": "2025-03-03T15:00:00-05:00"}
    per_kind: dict[str, dict[str, Any]] = {
        "stage_changed": {"stage": "preparatory_investigation", "complexity": "complex"},
        "hearing_scheduled": {"hearing_id": "h-101", "scheduled_for": "2025-04-10T09:00:00-05:00"},
        "hearing_held": {"hearing_id": "h-101"},
        "hearing_postponed": {
            "hearing_id": "h-101",
            "reason": "defence_absent",
            "new_date": "2025-05-02T09:00:00-05:00",
        },
        "victim_notified": {"about": "hearing"},
        "victim_attended": {"hearing_id": "h-101"},
        "victim_absent": {"hearing_id": "h-101"},
        "legal_representation_assigned": {"representative_ref": "defensa-publica-0042"},
        "protective_measure_granted": {
            "measure": "restraining_order",
            "measure_id": "mp-2025-0042",
            "expires_at": "2025-09-03T23:59:00-05:00",
        },
        "verdict_issued": {"outcome": "conviction"},
        "reparation_ordered": {"amount": 30000, "currency": "PEN"},
        "reparation_paid": {"amount": 5000, "currency": "PEN"},
        "appeal_filed": {},
        "case_archived": {"reason": "insufficient_evidence"},
        "case_reopened": {"reason": "new_evidence", "stage": "preliminary_investigation"},
        "deadline_extended": {"granted_by": "fiscal_provincial", "legal_basis": "CPP art. 342.1", "extra_days": 60},
        "complexity_declared": {"complexity": "complex", "legal_basis": "CPP art. 342.2"},
        "provisional_reserve": {"reason": "offender_unidentified"},
        "principio_de_oportunidad": {"legal_basis": "CPP art. 2"},
        "elevation_requested": {},
        "elevation_decided": {"outcome": "formalise"},
        "accusation_filed": {},
        "dismissal_requested": {},
        "trial_suspended": {"reason": "defendant_ill"},
        "trial_resumed": {},
        "order_issued": {"order": "prision_preventiva"},
        "protective_measure_renewed": {"measure_id": "mp-2025-0042", "expires_at": "2026-03-03T23:59:00-05:00"},
        "protective_measure_ended": {"measure_id": "mp-2025-0042", "reason": "lifted_by_court"},
        "testimony_taken": {"method": "camara_gesell"},
    }
    return {
        kind: {**base, "update_id": f"u-{i:04d}", "kind": kind, **fields}
        for i, (kind, fields) in enumerate(per_kind.items(), start=1)
    }
