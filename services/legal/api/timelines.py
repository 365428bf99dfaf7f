"""Read side: a case's legal timeline (its advocate, its org's supervisors) and the supervisors' list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from services.legal.api.deps import CaseId, Reader, RequestId, Service, Supervisor
from services.legal.api.schemas import CasePage, CaseSummary, Timeline
from services.legal.domain.bounds import RANGE_TEXT, QueryInstant
from services.legal.domain.stages import Stage
from services.legal.service import Actor, CaseListQuery, CaseNotFound

router = APIRouter(tags=["timelines"])

NOT_FOUND = "no legal timeline for this case"


@router.get(
    "/v1/cases/{case_id}/legal-timeline",
    response_model=Timeline,
    summary="a prosecution's timeline: stage, deadline, hearings, notifications, verdict, reparation",
    responses={
        403: {"description": "the token holds neither legal_advocate nor supervisor"},
        404: {
            "description": "no such case, or a case outside the caller's scope (not their case, not their org): "
            "the same answer, so it never confirms that a case exists"
        },
    },
)
def get_timeline(case_id: CaseId, principal: Reader, service: Service, rid: RequestId) -> Timeline:
    """Every read is audited: allowed (ok), outside the caller's scope (denied) or unknown (not_found)."""
    try:
        state = service.timeline(principal, case_id, rid)
    except CaseNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND) from None
    return Timeline.build(case_id, state)


@router.get(
    "/v1/legal/cases",
    response_model=CasePage,
    summary="supervisors: their org's prosecutions by stage, stalled or overdue (oldest stage first)",
)
def list_cases(
    principal: Supervisor,
    service: Service,
    rid: RequestId,
    stage: Annotated[Stage | None, Query(description="only cases currently in this stage")] = None,
    stalled_since: Annotated[
        QueryInstant | None,
        Query(description=f"only cases whose current stage began at or before this instant ({RANGE_TEXT})"),
    ] = None,
    overdue: Annotated[bool, Query(description="only cases past their stage's statutory deadline")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> CasePage:
    if not principal.org:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "token has no org claim")
    if page_size > service.settings.legal_page_size_max:
        raise HTTPException(
            422, [{"field": "query.page_size", "type": "less_than_equal", "msg": "page_size too large"}]
        )
    now = datetime.now(UTC)
    query = CaseListQuery(stage, stalled_since, now if overdue else None, (page - 1) * page_size, page_size)
    docs, total = service.list_cases(principal.org, query)
    items = [
        CaseSummary(
            case_id=d["_id"],
            stage=d.get("stage"),
            stage_started_at=d.get("stage_started_at"),
            complexity=d.get("complexity"),
            deadline_at=d.get("deadline_at"),
            extended_deadline_at=d.get("extended_deadline_at"),
            overdue=bool(d.get("deadline_at") and _aware(d["deadline_at"]) < now),
            last_activity_at=d.get("last_activity_at"),
            advocate_id=d.get("advocate_id"),
        )
        for d in docs
    ]
    if service.audit is not None:  # a read of case data: audited like a timeline read
        record = Actor.of(principal, rid).record("legal.case.list", None, "ok", {"items": len(items)})
        service.audit.record_many([record])
    return CasePage(items=items, page=page, page_size=page_size, total=total)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
