"""The prosecutor's references of a case, and resolving a carpeta fiscal to centinela's case id.

Who may set them: the owning organisation's staff and the case's assigned advocate. Who may resolve:
the same people, and court integrators whose ``source_system`` the case lists in
``shared_with_systems``. Everyone else, and an unknown carpeta, gets the same 404 (a resolver must
not confirm that a carpeta belongs to a case it may not see). Every attempt is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.domain import access, model
from services.intake.domain.model import Case
from services.intake.service.core import Caller, Changed, Conflict, Intake, NotFound, audit, denied, mutate, scoped
from services.intake.store.repository import DuplicateRef
from shared.events.envelope import EventPayload

SET_ACTION = "case_ref.set"
RESOLVE_ACTION = "case_ref.resolve"


def set_refs(
    ix: Intake,
    caller: Caller,
    case_id: str,
    *,
    carpeta_fiscal: str,
    office: str,
    expediente: str | None,
    shared_with_systems: list[str],
    if_match: int | None,
) -> Changed[model.ProsecutorRefs]:
    """Values arrive normalised (``domain.prosecution``); a carpeta taken in the same office is 409."""

    def authorize(case: Case) -> None:
        scoped(ix, caller, SET_ACTION, case)
        if not access.can_set_prosecutor_refs(caller.principal, case):
            raise denied(ix, caller, SET_ACTION, case_id, "only the organisation's staff or the case's advocate")

    def change(case: Case) -> tuple[Case, model.ProsecutorRefs, list[EventPayload]]:
        return model.set_prosecutor_refs(
            case,
            carpeta_fiscal=carpeta_fiscal,
            office=office,
            expediente=expediente,
            shared_with_systems=shared_with_systems,
            actor=caller.sub,
            role=caller.principal.role,
            now=datetime.now(UTC),
        )

    try:
        return mutate(
            ix,
            caller,
            case_id,
            SET_ACTION,
            change,
            authorize=authorize,
            expected_version=if_match,
            details=lambda r: {"office": r.office, "carpeta_fiscal": r.carpeta_fiscal},
        )
    except DuplicateRef:
        audit(ix, caller, SET_ACTION, case_id, outcome="denied", details={"why": "carpeta_taken", "office": office})
        raise Conflict(
            [
                {
                    "field": "body.carpeta_fiscal",
                    "type": "unique",
                    "msg": "this carpeta fiscal is already linked to another case of this office",
                }
            ]
        ) from None


def resolve(ix: Intake, caller: Caller, *, carpeta_fiscal: str, office: str) -> str:
    """The case id of the carpeta, or 404 (unknown and not yours look the same)."""
    where = {"office": office, "carpeta_fiscal": carpeta_fiscal}
    case = ix.repo.find_by_ref(office, carpeta_fiscal)
    if case is None:
        audit(ix, caller, RESOLVE_ACTION, None, outcome="not_found", details={"why": "ref_not_found", **where})
        raise NotFound("no case known for this carpeta_fiscal and office")
    if not access.can_resolve_ref(caller.principal, case, caller.principal.source_system):
        audit(ix, caller, RESOLVE_ACTION, case.case_id, outcome="denied", details={"why": "out_of_scope", **where})
        raise NotFound("no case known for this carpeta_fiscal and office")
    audit(ix, caller, RESOLVE_ACTION, case.case_id, details=where)
    return case.case_id
