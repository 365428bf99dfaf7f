"""/v1/cases/{case_id}/services and their sessions: plan a support service, record what happened."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api import views
from services.intake.api.deps import (
    CaseId,
    IfMatch,
    ItemId,
    Ix,
    ManageCaller,
    ServicesReadCaller,
    SessionCaller,
    etag,
)
from services.intake.service import items

router = APIRouter(tags=["services"])


@router.post(
    "/cases/{case_id}/services",
    status_code=201,
    response_model=s.ServiceOut,
    summary="plan a service",
    responses=r.merged(
        r.conflict("the case is closed", "the case holds the most services allowed"),
        {
            422: {
                "description": "a field is invalid: spl_Type that does not fit service_kind, interval_days "
                "missing for more than one session, not exactly one of first_due_at and service_response_timeframe"
            }
        },
    ),
)
def plan_service(
    case_id: CaseId, body: s.ServiceCreate, response: Response, ix: Ix, caller: ManageCaller, version: IfMatch
) -> s.ServiceOut:
    done = items.plan_service(
        ix,
        caller,
        case_id,
        service_kind=body.service_kind,
        spl_type=body.spl_Type,
        provider_org_id=body.provider_org_id,
        first_due_at=body.first_due_at,
        timeframe=body.service_response_timeframe,
        interval_days=body.interval_days,
        sessions_planned=body.sessions_planned,
        if_match=version,
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.service_out(done.result)


@router.get("/cases/{case_id}/services", response_model=list[s.ServiceOut], responses=r.BREAK_GLASS)
def list_services(case_id: CaseId, ix: Ix, caller: ServicesReadCaller) -> list[s.ServiceOut]:
    return [views.service_out(sv) for sv in items.list_services(ix, caller, case_id)]


@router.post(
    "/cases/{case_id}/services/{service_id}/sessions",
    status_code=201,
    response_model=s.SessionOut,
    summary="record a session: attended / missed / cancelled",
    responses=r.merged(
        r.conflict("occurred_at is before the case's rescue_date", "the case holds the most sessions allowed"),
        {403: r.refusal("the service is not assigned to the caller's organisation")},
        {404: r.refusal("no such case or service, or not yours")},
        {422: {"description": "a field is invalid (missed_reason with an attended session)"}},
    ),
)
def record_session(
    case_id: CaseId,
    service_id: ItemId,
    body: s.SessionCreate,
    response: Response,
    ix: Ix,
    caller: SessionCaller,
    version: IfMatch,
) -> s.SessionOut:
    done = items.record_session(
        ix,
        caller,
        case_id,
        service_id,
        outcome=body.outcome,
        occurred_at=body.occurred_at,
        missed_reason=body.missed_reason,
        if_match=version,
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.session_out(done.result)


@router.get(
    "/cases/{case_id}/services/{service_id}/sessions", response_model=list[s.SessionOut], responses=r.BREAK_GLASS
)
def list_sessions(case_id: CaseId, service_id: ItemId, ix: Ix, caller: ServicesReadCaller) -> list[s.SessionOut]:
    return [views.session_out(x) for x in items.list_sessions(ix, caller, case_id, service_id)]
