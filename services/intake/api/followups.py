"""/v1/cases/{case_id}/follow-ups: planned contacts (reintegration, 3/6/12 months after closure)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api import views
from services.intake.api.deps import CaseId, IfMatch, ItemId, Ix, ManageCaller, etag
from services.intake.service import items

router = APIRouter(tags=["follow-ups"])


@router.post(
    "/cases/{case_id}/follow-ups",
    status_code=201,
    response_model=s.FollowUpOut,
    summary="plan (optionally already done: done_date and outcome together)",
    responses=r.merged(
        r.conflict("the case holds the most follow-ups allowed"),
        {422: {"description": "a field is invalid: done_date without outcome (or outcome without done_date)"}},
    ),
)
def plan_followup(
    case_id: CaseId, body: s.FollowUpCreate, response: Response, ix: Ix, caller: ManageCaller, version: IfMatch
) -> s.FollowUpOut:
    done = items.plan_followup(
        ix,
        caller,
        case_id,
        kind=body.kind,
        planned_date=body.followup_needed_by_date,
        done_date=body.done_date,
        outcome=body.outcome,
        if_match=version,
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.followup_out(done.result)


@router.patch(
    "/cases/{case_id}/follow-ups/{followup_id}",
    response_model=s.FollowUpOut,
    summary="record",
    responses=r.merged(
        r.conflict("this follow-up is already recorded"),
        {404: r.refusal("no such case or follow-up, or not yours")},
    ),
)
def record_followup(
    case_id: CaseId,
    followup_id: ItemId,
    body: s.FollowUpRecord,
    response: Response,
    ix: Ix,
    caller: ManageCaller,
    version: IfMatch,
) -> s.FollowUpOut:
    done = items.record_followup(
        ix, caller, case_id, followup_id, done_date=body.done_date, outcome=body.outcome, if_match=version
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.followup_out(done.result)
