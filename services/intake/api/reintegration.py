"""/v1/cases/{case_id}/reintegration: the child's reintegration outcomes (education, employment or
training, placement, documentation), each with the date it became true."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api import views
from services.intake.api.deps import CaseId, FlagsReadCaller, IfMatch, Ix, ManageCaller, etag
from services.intake.service import items

router = APIRouter(tags=["reintegration"])


@router.post(
    "/cases/{case_id}/reintegration",
    status_code=201,
    response_model=s.ReintegrationOut,
    summary="record an outcome",
    responses=r.conflict("the case holds the most reintegration outcomes allowed"),
)
def record_reintegration(
    case_id: CaseId, body: s.ReintegrationCreate, response: Response, ix: Ix, caller: ManageCaller, version: IfMatch
) -> s.ReintegrationOut:
    done = items.record_reintegration(
        ix,
        caller,
        case_id,
        domain=body.domain,
        status=body.status,
        effective_date=body.effective_date,
        if_match=version,
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.reintegration_out(done.result)


@router.get(
    "/cases/{case_id}/reintegration",
    response_model=s.ReintegrationList,
    summary="outcomes (audited)",
    responses=r.merged(r.BREAK_GLASS, {403: r.refusal("the role may not read reintegration outcomes")}),
)
def list_reintegration(case_id: CaseId, ix: Ix, caller: FlagsReadCaller) -> s.ReintegrationList:
    return views.reintegration_list(items.list_reintegration(ix, caller, case_id))
