"""/v1/cases/{case_id}/risk-flags: signs of danger (revictimisation, runaway, threats)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api import views
from services.intake.api.deps import CaseId, FlagCaller, FlagsReadCaller, IfMatch, Ix, etag
from services.intake.service import items

router = APIRouter(tags=["risk"])


@router.post(
    "/cases/{case_id}/risk-flags",
    status_code=201,
    response_model=s.RiskFlagOut,
    summary="raise a flag",
    responses=r.conflict("the case holds the most risk flags allowed"),
)
def raise_flag(
    case_id: CaseId, body: s.RiskFlagCreate, response: Response, ix: Ix, caller: FlagCaller, version: IfMatch
) -> s.RiskFlagOut:
    done = items.raise_flag(
        ix, caller, case_id, kind=body.kind, severity=body.severity, observed_at=body.observed_at, if_match=version
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.flag_out(done.result)


@router.get(
    "/cases/{case_id}/risk-flags",
    response_model=list[s.RiskFlagOut],
    responses=r.merged(r.BREAK_GLASS, {403: r.refusal("the role may not read risk flags")}),
)
def list_flags(case_id: CaseId, ix: Ix, caller: FlagsReadCaller) -> list[s.RiskFlagOut]:
    return [views.flag_out(f) for f in items.list_flags(ix, caller, case_id)]
