"""Thin HTTP layer: guard the role, scope the case, call a domain rule, write once, audit.

Out-of-scope cases answer 404 (never confirm that another organisation's case exists);
roles that may not use a route at all get 403 before any lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from services.intake import metrics
from services.intake.api import schemas as s
from services.intake.api.context import Intake, get_intake
from services.intake.domain import access, model
from services.intake.domain.identity import IdentityKeyError, person_ref
from services.intake.domain.model import Case
from shared.auth import Principal, require
from shared.events.envelope import EventPayload

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1")
T = TypeVar("T")

CaseId = Annotated[str, Path(pattern=model.CASE_ID_PATTERN, description="opaque case id (cs_...)")]
ItemId = Annotated[str, Path(pattern=model.ITEM_ID_PATTERN)]
IX = Annotated[Intake, Depends(get_intake)]
MAX_RETRIES = 5


# --- helpers ------------------------------------------------------------------------------------------
def access_reason(request: Request, required: bool) -> str | None:
    reason = request.headers.get("x-access-reason")
    if reason is not None:
        reason = reason.strip()
        if not 10 <= len(reason) <= 500:
            raise HTTPException(
                422, [{"field": "header.X-Access-Reason", "type": "length", "msg": "must be 10 to 500 characters"}]
            )
    if required and not reason:
        raise HTTPException(
            400,
            [{"field": "header.X-Access-Reason", "type": "missing", "msg": "break-glass access needs a stated reason"}],
        )
    return reason


def audit(
    ix: Intake,
    request: Request,
    p: Principal,
    action: str,
    case_id: str | None,
    *,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> None:
    ix.audit.record(
        actor=p.sub,
        role=p.role,
        roles=sorted(p.roles),
        org=p.org,
        action=action,
        case_id=case_id,
        outcome=outcome,
        request_id=getattr(request.state, "request_id", None),
        reason=request.headers.get("x-access-reason", "")[:500] or None,
        details=details,
    )


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(request: Request) -> int | None:
    raw = request.headers.get("if-match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise HTTPException(422, [{"field": "header.If-Match", "type": "format", "msg": 'expected an ETag like "3"'}])
    return int(value)


def not_found(ix: Intake, request: Request, p: Principal, action: str, case_id: str) -> HTTPException:
    audit(ix, request, p, action, case_id, outcome="denied", details={"why": "out_of_scope"})
    return HTTPException(404, "case not found")


def load(ix: Intake, request: Request, p: Principal, case_id: str, action: str) -> tuple[Case, access.View]:
    """The case and the caller's view of it, or 404 (missing and out-of-scope look the same)."""
    case = ix.repo.get(case_id)
    if case is None:
        raise HTTPException(404, "case not found")
    view = access.case_view(p, case)
    if view is None:
        raise not_found(ix, request, p, action, case_id)
    if access.is_break_glass(p, case) and not access_reason(request, required=False):
        audit(ix, request, p, action, case_id, outcome="denied", details={"why": "break_glass_without_reason"})
        access_reason(request, required=True)
    return case, view


def forbid(ix: Intake, request: Request, p: Principal, action: str, case_id: str, why: str) -> HTTPException:
    audit(ix, request, p, action, case_id, outcome="denied", details={"why": why})
    return HTTPException(403, why)


def mutate(
    ix: Intake,
    request: Request,
    response: Response,
    p: Principal,
    case_id: str,
    action: str,
    authorize: Callable[[Case], None],
    change: Callable[[Case], tuple[Case, T, list[EventPayload]]],
    expected_version: int | None = None,
    details: Callable[[T], dict[str, Any]] | None = None,
) -> tuple[Case, T]:
    """Read-modify-write on the case with a version compare-and-set; retried on a lost race unless
    the caller pinned a version (If-Match), which then answers 409."""
    for _ in range(MAX_RETRIES):
        case = ix.repo.get(case_id)
        if case is None:
            raise HTTPException(404, "case not found")
        authorize(case)
        if expected_version is not None and case.version != expected_version:
            metrics.version_conflicts.inc()
            raise HTTPException(409, f"version conflict: the case is at version {case.version}")
        try:
            new_case, result, events = change(case)
        except model.DomainError as exc:
            raise HTTPException(exc.status, exc.message) from None
        if not events:
            response.headers["ETag"] = etag(case.version)
            return case, result
        saved = ix.repo.save(case.version, new_case, events)
        if saved:
            ix.notify()
            extra = details(result) if details else {}
            audit(ix, request, p, action, case_id, details={"events": [e.TYPE for e in events], **extra})
            response.headers["ETag"] = etag(new_case.version)
            log.info("case changed", extra={"case_id": case_id})
            return new_case, result
        metrics.version_conflicts.inc()
        if expected_version is not None:
            raise HTTPException(409, "version conflict: the case changed meanwhile")
    raise HTTPException(409, "the case is changing too fast; retry")


def scoped(ix: Intake, request: Request, p: Principal, action: str, case: Case) -> access.View:
    view = access.case_view(p, case)
    if view is None:
        raise not_found(ix, request, p, action, case.case_id)
    return view


def _require_view(ix: Intake, request: Request, p: Principal, action: str, case: Case) -> None:
    scoped(ix, request, p, action, case)


def manager(ix: Intake, request: Request, p: Principal, action: str) -> Callable[[Case], None]:
    def authorize(case: Case) -> None:
        scoped(ix, request, p, action, case)
        if not access.can_manage(p, case):
            raise forbid(ix, request, p, action, case.case_id, "only the owning organisation's staff may do this")

    return authorize


def service_out(sv: model.Service) -> s.ServiceOut:
    return s.ServiceOut(spl_Type=sv.spl_type, **sv.model_dump(exclude={"spl_type"}))


def followup_out(f: model.FollowUp) -> s.FollowUpOut:
    return s.FollowUpOut(followup_needed_by_date=f.planned_date, **f.model_dump(exclude={"planned_date"}))


def summary(case: Case, view: access.View) -> s.CaseSummary:
    if view == "provider":  # service providers see no legal or identity data
        return s.CaseSummary(
            case_id=case.case_id,
            version=case.version,
            org_id=case.org_id,
            status=case.status,
            registered_at=case.registered_at,
        )
    return s.CaseSummary.model_validate(case.model_dump())


def render(p: Principal, case: Case, view: access.View, identity: dict[str, Any] | None) -> s.CaseOut:
    services = access.visible_services(p, case, view)
    base = summary(case, view).model_dump()
    out = s.CaseOut(
        **base,
        view=view,
        updated_at=case.updated_at,
        services=[service_out(sv) for sv in case.services if sv.service_id in services],
        sessions=[s.SessionOut.model_validate(x.model_dump()) for x in case.sessions if x.service_id in services],
    )
    if view == "full":
        out = out.model_copy(
            update={
                "trafficking_status": case.trafficking_status,
                "methods_of_control": case.methods_of_control,
                "place_of_exploitation": case.place_of_exploitation,
                "referring_org_id": case.referring_org_id,
                "consent_for_services": case.consent_for_services,
                "consent_reporting": case.consent_reporting,
                "person_ref": case.person_ref,
                "linked_case_ids": case.linked_case_ids,
                "risk_flags": [s.RiskFlagOut.model_validate(f.model_dump()) for f in case.risk_flags],
                "followups": [followup_out(f) for f in case.followups],
                "referrals": [s.ReferralOut.model_validate(r.model_dump()) for r in case.referrals],
                "identity": identity,
            }
        )
    return out


# --- cases ------------------------------------------------------------------------------------------------
@router.post("/cases", status_code=201, response_model=s.CaseCreated, tags=["cases"], summary="register a case")
def create_case(
    body: s.CaseCreate,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.CREATE_CASE))],
) -> s.CaseCreated:
    if not p.org:
        raise HTTPException(403, "the token carries no organisation")
    if body.org_id is not None and body.org_id != p.org:
        raise HTTPException(403, "org_id must be your own organisation")
    now = datetime.now(UTC)
    case_id = model.new_id("cs")
    identity = body.identity.model_dump(mode="json", exclude_none=True) if body.identity else {}
    encrypted = ix.cipher.encrypt(case_id, identity)
    ref = None
    if body.identity is not None:
        docs = body.identity.documents
        ref = person_ref(
            ix.person_ref_key,
            given_names=body.identity.given_names,
            family_names=body.identity.family_names,
            birth_date=body.identity.birth_date,
            document_number=docs[0].number if docs else None,
        )
    previous = ix.repo.cases_of_person(ref, case_id) if ref else []
    case = Case(
        case_id=case_id,
        org_id=p.org,
        advocate_id=body.advocate_id,
        referring_org_id=body.referring_org_id,
        trafficking_status=body.trafficking_status,
        exploitation_types=list(body.exploitation_types),
        methods_of_control=list(body.methods_of_control),
        region=body.region,
        place_of_exploitation=body.place_of_exploitation,
        rescue_date=body.rescue_date,
        consent_for_services=body.consent_for_services,
        consent_reporting=body.consent_reporting,
        person_ref=ref,
        linked_case_ids=sorted(previous),
        identity=encrypted,
        registered_at=now,
        registered_by=p.sub,
        updated_at=now,
    )
    events = model.register(case, previous, now)
    ix.repo.insert(case, events)
    ix.repo.link(previous, case_id)
    ix.notify()
    metrics.cases_registered.inc()
    if previous:
        metrics.reregistrations.inc()
    audit(
        ix,
        request,
        p,
        "case.create",
        case_id,
        details={"events": [e.TYPE for e in events], "identity_fields": sorted(encrypted)},
    )
    log.info("case registered", extra={"case_id": case_id})
    response.headers["ETag"] = etag(case.version)
    response.headers["Location"] = f"/v1/cases/{case_id}"
    return s.CaseCreated(
        case_id=case_id, version=case.version, person_ref_known=bool(previous), linked_case_ids=sorted(previous)
    )


@router.get("/cases", response_model=s.CasePage, tags=["cases"], summary="list cases (never identity)")
def list_cases(
    request: Request,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.LIST_CASES))],
    status_: Annotated[model.CaseStatus | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    advocate_id: Annotated[str | None, Query(max_length=64)] = None,
    org_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1)] = 50,
) -> s.CasePage:
    if page_size > ix.settings.page_size_max:
        raise HTTPException(
            422, [{"field": "query.page_size", "type": "less_than_equal", "msg": f"max {ix.settings.page_size_max}"}]
        )
    scope: list[dict[str, Any]] = []
    if p.has("intake_officer", "supervisor") and p.org:
        scope.append({"org_id": p.org})
    if p.has("legal_advocate"):
        scope.append({"advocate_id": p.sub})
    if p.has("service_provider") and p.org:
        scope.append({"services.provider_org_id": p.org})
    filters: dict[str, Any] = {}
    if status_:
        filters["status"] = status_
    if region:
        filters["region"] = region
    if advocate_id:
        filters["advocate_id"] = advocate_id
    if org_id:
        filters["org_id"] = org_id
    items: list[Case] = []
    total = 0
    if scope:
        query = {"$and": [{"$or": scope}, filters]} if filters else {"$or": scope}
        items, total = ix.repo.search(query, page, page_size)
    out = []
    for case in items:
        view = access.case_view(p, case)
        if view is not None:
            out.append(summary(case, view))
    audit(
        ix,
        request,
        p,
        "case.list",
        None,
        details={"filters": sorted(filters), "case_ids": [c.case_id for c in out]},
    )
    return s.CasePage(items=out, page=page, page_size=page_size, total=total)


@router.get("/cases/{case_id}", response_model=s.CaseOut, tags=["cases"], summary="read a case (audited)")
def get_case(
    case_id: CaseId,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.READ_CASE))],
    include_identity: Annotated[bool, Query(description="decrypt the identity block (allowed roles only)")] = False,
) -> s.CaseOut:
    action = "case.read_identity" if include_identity else "case.read"
    case, view = load(ix, request, p, case_id, action)
    break_glass = access.is_break_glass(p, case)
    identity = None
    if include_identity:
        if view != "full" or not access.can_see_identity(p, case):
            raise forbid(ix, request, p, action, case_id, "your role may not see identity data")
        try:
            identity = ix.cipher.decrypt(case.case_id, case.identity)
        except IdentityKeyError as exc:
            log.error("identity not decryptable", extra={"case_id": case_id})
            raise HTTPException(503, "identity data cannot be decrypted with the configured keys") from exc
        metrics.identity_reads.labels("break_glass" if break_glass else "case_role").inc()
    # audited before anything is returned: no record, no data
    audit(ix, request, p, action, case_id, details={"view": view, "break_glass": break_glass})
    response.headers["ETag"] = etag(case.version)
    return render(p, case, view, identity)


@router.patch("/cases/{case_id}", response_model=s.CaseOut, tags=["cases"], summary="change status / advocate / fields")
def patch_case(
    case_id: CaseId,
    body: s.CasePatch,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.MANAGE_CASE))],
) -> s.CaseOut:
    expected = parse_if_match(request)
    if body.expected_version is not None:
        if expected is not None and expected != body.expected_version:
            raise HTTPException(
                422, [{"field": "body.expected_version", "type": "mismatch", "msg": "differs from If-Match"}]
            )
        expected = body.expected_version
    if expected is None:
        raise HTTPException(428, "send If-Match with the case's ETag (or expected_version) to change a case")
    changes = body.model_dump(include=body.model_fields_set - {"expected_version"})

    def change(case: Case) -> tuple[Case, None, list[EventPayload]]:
        new_case, events = model.update_case(case, changes, datetime.now(UTC))
        return new_case, None, events

    case, _ = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        "case.update",
        manager(ix, request, p, "case.update"),
        change,
        expected,
        details=lambda _: {"fields": sorted(changes)},
    )
    return render(p, case, "full", None)


# --- services and sessions -------------------------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/services",
    status_code=201,
    response_model=s.ServiceOut,
    tags=["services"],
    summary="plan a service",
)
def plan_service(
    case_id: CaseId,
    body: s.ServiceCreate,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.MANAGE_CASE))],
) -> s.ServiceOut:
    def change(case: Case) -> tuple[Case, model.Service, list[EventPayload]]:
        return model.plan_service(
            case,
            service_kind=body.service_kind,
            spl_type=body.spl_Type,
            provider_org_id=body.provider_org_id,
            first_due_at=body.first_due_at,
            timeframe=body.service_response_timeframe,
            interval_days=body.interval_days,
            sessions_planned=body.sessions_planned,
            actor=p.sub,
            now=datetime.now(UTC),
            max_services=ix.settings.max_services_per_case,
        )

    _, service = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        "service.plan",
        manager(ix, request, p, "service.plan"),
        change,
        parse_if_match(request),
        details=lambda sv: {"service_id": sv.service_id, "service_kind": sv.service_kind},
    )
    metrics.services_planned.labels(service.service_kind).inc()
    return service_out(service)


@router.get("/cases/{case_id}/services", response_model=list[s.ServiceOut], tags=["services"])
def list_services(
    case_id: CaseId,
    request: Request,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.READ_SERVICES))],
) -> list[s.ServiceOut]:
    case, view = load(ix, request, p, case_id, "service.list")
    visible = access.visible_services(p, case, view)
    audit(ix, request, p, "service.list", case_id, details={"view": view})
    return [service_out(sv) for sv in case.services if sv.service_id in visible]


@router.post(
    "/cases/{case_id}/services/{service_id}/sessions",
    status_code=201,
    response_model=s.SessionOut,
    tags=["services"],
    summary="record a session: attended / missed / cancelled",
)
def record_session(
    case_id: CaseId,
    service_id: ItemId,
    body: s.SessionCreate,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.RECORD_SESSION))],
) -> s.SessionOut:
    action = "session.record"

    def authorize(case: Case) -> None:
        view = scoped(ix, request, p, action, case)
        if service_id not in access.visible_services(p, case, view):
            raise HTTPException(404, "service not found")
        if not access.can_record_session(p, case, case.service(service_id).provider_org_id):
            raise forbid(ix, request, p, action, case_id, "this service is not assigned to your organisation")

    def change(case: Case) -> tuple[Case, model.Session, list[EventPayload]]:
        return model.record_session(
            case,
            service_id,
            outcome=body.outcome,
            occurred_at=body.occurred_at,
            missed_reason=body.missed_reason,
            actor=p.sub,
            actor_org=p.org,
            now=datetime.now(UTC),
            max_sessions=ix.settings.max_sessions_per_case,
        )

    _, session = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        action,
        authorize,
        change,
        parse_if_match(request),
        details=lambda ss: {"service_id": service_id, "session_id": ss.session_id, "outcome": ss.outcome},
    )
    metrics.sessions_recorded.labels(session.outcome).inc()
    return s.SessionOut.model_validate(session.model_dump())


@router.get("/cases/{case_id}/services/{service_id}/sessions", response_model=list[s.SessionOut], tags=["services"])
def list_sessions(
    case_id: CaseId,
    service_id: ItemId,
    request: Request,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.READ_SERVICES))],
) -> list[s.SessionOut]:
    case, view = load(ix, request, p, case_id, "session.list")
    if service_id not in access.visible_services(p, case, view):
        raise HTTPException(404, "service not found")
    audit(ix, request, p, "session.list", case_id, details={"service_id": service_id, "view": view})
    return [s.SessionOut.model_validate(x.model_dump()) for x in case.sessions if x.service_id == service_id]


# --- risk flags and follow-ups ---------------------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/risk-flags", status_code=201, response_model=s.RiskFlagOut, tags=["risk"], summary="raise a flag"
)
def raise_flag(
    case_id: CaseId,
    body: s.RiskFlagCreate,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.RAISE_FLAG))],
) -> s.RiskFlagOut:
    def change(case: Case) -> tuple[Case, model.RiskFlag, list[EventPayload]]:
        return model.raise_flag(
            case,
            kind=body.kind,
            severity=body.severity,
            observed_at=body.observed_at,
            actor=p.sub,
            role=p.role,
            now=datetime.now(UTC),
            max_items=ix.settings.max_items_per_case,
        )

    _, flag = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        "risk.flag",
        lambda case: _require_view(ix, request, p, "risk.flag", case),
        change,
        parse_if_match(request),
        details=lambda f: {"flag_id": f.flag_id, "kind": f.kind, "severity": f.severity},
    )
    metrics.risk_flags.labels(flag.kind).inc()
    return s.RiskFlagOut.model_validate(flag.model_dump())


@router.get("/cases/{case_id}/risk-flags", response_model=list[s.RiskFlagOut], tags=["risk"])
def list_flags(
    case_id: CaseId,
    request: Request,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.READ_FLAGS))],
) -> list[s.RiskFlagOut]:
    case, view = load(ix, request, p, case_id, "risk.list")
    if view != "full":
        raise forbid(ix, request, p, "risk.list", case_id, "your role may not read risk flags")
    audit(ix, request, p, "risk.list", case_id)
    return [s.RiskFlagOut.model_validate(f.model_dump()) for f in case.risk_flags]


@router.post(
    "/cases/{case_id}/follow-ups", status_code=201, response_model=s.FollowUpOut, tags=["follow-ups"], summary="plan"
)
def plan_followup(
    case_id: CaseId,
    body: s.FollowUpCreate,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.MANAGE_CASE))],
) -> s.FollowUpOut:
    def change(case: Case) -> tuple[Case, model.FollowUp, list[EventPayload]]:
        return model.plan_followup(
            case,
            kind=body.kind,
            planned_date=body.followup_needed_by_date,
            done_date=body.done_date,
            outcome=body.outcome,
            now=datetime.now(UTC),
            max_items=ix.settings.max_items_per_case,
        )

    _, followup = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        "followup.plan",
        manager(ix, request, p, "followup.plan"),
        change,
        parse_if_match(request),
        details=lambda f: {"followup_id": f.followup_id},
    )
    return followup_out(followup)


@router.patch(
    "/cases/{case_id}/follow-ups/{followup_id}", response_model=s.FollowUpOut, tags=["follow-ups"], summary="record"
)
def record_followup(
    case_id: CaseId,
    followup_id: ItemId,
    body: s.FollowUpRecord,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.MANAGE_CASE))],
) -> s.FollowUpOut:
    def change(case: Case) -> tuple[Case, model.FollowUp, list[EventPayload]]:
        return model.record_followup(
            case, followup_id, done_date=body.done_date, outcome=body.outcome, now=datetime.now(UTC)
        )

    _, followup = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        "followup.record",
        manager(ix, request, p, "followup.record"),
        change,
        parse_if_match(request),
        details=lambda f: {"followup_id": f.followup_id},
    )
    return followup_out(followup)


# --- referrals ---------------------------------------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/referrals", status_code=201, response_model=s.ReferralOut, tags=["referrals"], summary="refer"
)
def create_referral(
    case_id: CaseId,
    body: s.ReferralCreate,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.REFERRALS))],
) -> s.ReferralOut:
    action = "referral.create"
    override = body.consent_override_reason is not None

    def authorize(case: Case) -> None:
        manager(ix, request, p, action)(case)
        if override and not case.consent_for_services and not p.has("supervisor"):
            raise forbid(ix, request, p, action, case_id, "only a supervisor may override consent_for_services")

    def change(case: Case) -> tuple[Case, model.Referral, list[EventPayload]]:
        return model.refer(
            case,
            to_org_id=body.to_org_id,
            service_kind=body.service_kind,
            consent_override=override and p.has("supervisor"),
            actor=p.sub,
            now=datetime.now(UTC),
            max_items=ix.settings.max_items_per_case,
        )

    _, referral = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        action,
        authorize,
        change,
        parse_if_match(request),
        details=lambda r: {
            "referral_id": r.referral_id,
            "to_org_id": r.to_org_id,
            "consent_override": r.consent_override,
        },
    )
    if referral.consent_override:
        ix.audit.record(
            actor=p.sub,
            role=p.role,
            roles=sorted(p.roles),
            org=p.org,
            action="referral.consent_override",
            case_id=case_id,
            outcome="ok",
            request_id=getattr(request.state, "request_id", None),
            reason=body.consent_override_reason,
            details={"referral_id": referral.referral_id, "to_org_id": referral.to_org_id},
        )
    return s.ReferralOut.model_validate(referral.model_dump())


@router.patch(
    "/cases/{case_id}/referrals/{referral_id}",
    response_model=s.ReferralOut,
    tags=["referrals"],
    summary="move a referral: receiving org accepts / rejects / done; referring org revokes",
)
def change_referral(
    case_id: CaseId,
    referral_id: ItemId,
    body: s.ReferralPatch,
    request: Request,
    response: Response,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.REFERRALS))],
) -> s.ReferralOut:
    action = "referral.status"

    def authorize(case: Case) -> None:
        # The receiving organisation cannot read the case but may answer the referral addressed to it.
        try:
            referral = case.referral(referral_id)
        except model.NotFound:
            referral = None
        if p.org is None or (p.org != case.org_id and (referral is None or p.org != referral.to_org_id)):
            raise not_found(ix, request, p, action, case_id)
        if referral is None:
            raise HTTPException(404, "referral not found")

    def change(case: Case) -> tuple[Case, model.Referral, list[EventPayload]]:
        return model.change_referral(
            case, referral_id, status=body.status, actor=p.sub, actor_org=p.org, now=datetime.now(UTC)
        )

    _, referral = mutate(
        ix,
        request,
        response,
        p,
        case_id,
        action,
        authorize,
        change,
        parse_if_match(request),
        details=lambda r: {"referral_id": r.referral_id, "status": r.status},
    )
    return s.ReferralOut.model_validate(referral.model_dump())


# --- audit and aggregate counts -------------------------------------------------------------------------------------
@router.get("/audit", response_model=s.AuditPage, tags=["audit"], summary="the audit log (admins)")
def read_audit(
    request: Request,
    ix: IX,
    p: Annotated[Principal, Depends(require(*access.AUDIT))],
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied)$")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1)] = 50,
) -> s.AuditPage:
    if page_size > ix.settings.page_size_max:
        raise HTTPException(
            422, [{"field": "query.page_size", "type": "less_than_equal", "msg": f"max {ix.settings.page_size_max}"}]
        )
    filters: dict[str, Any] = {}
    for name, value in (
        ("case_id", case_id),
        ("actor", actor),
        ("action", action),
        ("org", org),
        ("outcome", outcome),
        ("request_id", request_id),
    ):
        if value is not None:
            filters[name] = value
    if since is not None:
        filters["at__gte"] = since if since.tzinfo else since.replace(tzinfo=UTC)
    if until is not None:
        filters["at__lt"] = until if until.tzinfo else until.replace(tzinfo=UTC)
    records, total = ix.audit.search(filters, page, page_size)
    items = [s.AuditOut.model_validate(r.to_mongo().to_dict()) for r in records]
    audit(ix, request, p, "audit.read", case_id, details={"filters": sorted(filters)})
    return s.AuditPage(items=items, page=page, page_size=page_size, total=total)


@router.get("/stats", response_model=s.Stats, tags=["ops"], summary="aggregate case counts (no case data)")
def stats(ix: IX, p: Annotated[Principal, Depends(require(*access.STATS))]) -> s.Stats:
    if p.has("ops_viewer", "admin"):
        org, scope = None, "all"
    elif p.org:
        org, scope = p.org, f"org:{p.org}"
    else:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the token carries no organisation")
    counts = ix.repo.counts_by_status(org)
    return s.Stats(scope=scope, cases_total=sum(counts.values()), cases_by_status=counts)
