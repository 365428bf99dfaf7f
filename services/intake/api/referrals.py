"""/v1/cases/{case_id}/referrals: Primero's referral life cycle between organisations."""

from __future__ import annotations

from fastapi import APIRouter, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api import views
from services.intake.api.deps import CaseId, IfMatch, ItemId, Ix, ReferralCaller, etag
from services.intake.service import items

router = APIRouter(tags=["referrals"])


@router.post(
    "/cases/{case_id}/referrals",
    status_code=201,
    response_model=s.ReferralOut,
    summary="refer",
    responses=r.merged(
        r.conflict(
            "consent_for_services is not given (a supervisor may override with consent_override_reason)",
            "to_org_id is the case's own organisation",
            "the case is closed",
            "the case holds the most referrals allowed",
        ),
        {403: r.refusal("consent_override_reason from someone who is not a supervisor")},
    ),
)
def create_referral(
    case_id: CaseId, body: s.ReferralCreate, response: Response, ix: Ix, caller: ReferralCaller, version: IfMatch
) -> s.ReferralOut:
    done = items.refer(
        ix,
        caller,
        case_id,
        to_org_id=body.to_org_id,
        service_kind=body.service_kind,
        consent_override_reason=body.consent_override_reason,
        if_match=version,
    )
    response.headers["ETag"] = etag(done.case.version)
    return views.referral_out(done.result)


@router.patch(
    "/cases/{case_id}/referrals/{referral_id}",
    response_model=s.ReferralOut,
    summary="move a referral: receiving org accepts / rejects / done; referring org revokes",
    responses=r.merged(
        r.conflict(
            "the referral's status does not allow this move",
            "only the receiving organisation may accept, reject or finish; only the referring one may revoke",
        ),
        {404: r.refusal("no such case or referral, or neither organisation of the referral is yours")},
    ),
)
def change_referral(
    case_id: CaseId,
    referral_id: ItemId,
    body: s.ReferralPatch,
    response: Response,
    ix: Ix,
    caller: ReferralCaller,
    version: IfMatch,
) -> s.ReferralOut:
    done = items.change_referral(ix, caller, case_id, referral_id, status=body.status, if_match=version)
    response.headers["ETag"] = etag(done.case.version)
    return views.referral_out(done.result)
