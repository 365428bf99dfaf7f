"""Read side: a case's legal timeline (its advocate, its org's supervisors) and the supervisors' list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status

from services.legal.api.schemas import CasePage, CaseSummary, Timeline
from services.legal.domain.stages import Stage
from services.legal.domain.timeline import replay
from services.legal.pipeline import LegalPipeline
from shared.auth import Principal, require

router = APIRouter(tags=["timelines"])

CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]


@router.get(
    "/v1/cases/{case_id}/legal-timeline",
    response_model=Timeline,
    summary="a prosecution's timeline: stage, deadline, hearings, notifications, verdict, reparation",
    responses={403: {"description": "not this case's advocate nor a supervisor of its org"}, 404: {}},
)
def get_timeline(
    request: Request,
    case_id: CaseId,
    principal: Annotated[Principal, Depends(require("legal_advocate", "supervisor"))],
) -> Timeline:
    pipeline: LegalPipeline = request.app.state.pipeline
    access = pipeline.repo.access_of(case_id) or {}
    loaded = pipeline.repo.load(case_id)  # the per-case cache; a write after a crash heals any lag
    if not access and not loaded.records:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no legal timeline for this case")
    if not _may_read(principal, access.get("advocate_id"), access.get("org_id")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only the case's legal advocate or its org's supervisors")
    return Timeline.build(case_id, replay(loaded.records, pipeline.policy))


def _may_read(principal: Principal, advocate_id: str | None, org_id: str | None) -> bool:
    if principal.has("legal_advocate") and advocate_id and advocate_id == principal.sub:
        return True
    return bool(principal.has("supervisor") and org_id and principal.org == org_id)


@router.get(
    "/v1/legal/cases",
    response_model=CasePage,
    summary="supervisors: their org's prosecutions by stage, stalled or overdue (oldest stage first)",
)
def list_cases(
    request: Request,
    principal: Annotated[Principal, Depends(require("supervisor"))],
    stage: Annotated[Stage | None, Query(description="only cases currently in this stage")] = None,
    stalled_since: Annotated[
        datetime | None, Query(description="only cases whose current stage began at or before this instant")
    ] = None,
    overdue: Annotated[bool, Query(description="only cases past their stage's statutory deadline")] = False,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> CasePage:
    pipeline: LegalPipeline = request.app.state.pipeline
    if not principal.org:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "token has no org claim")
    if page_size > pipeline.settings.legal_page_size_max:
        raise HTTPException(
            422, [{"field": "query.page_size", "type": "less_than_equal", "msg": "page_size too large"}]
        )
    if stalled_since is not None and stalled_since.tzinfo is None:
        stalled_since = stalled_since.replace(tzinfo=UTC)
    now = datetime.now(UTC)
    docs, total = pipeline.repo.list_cases(
        principal.org,
        stage=stage,
        stalled_since=stalled_since,
        overdue_at=now if overdue else None,
        skip=(page - 1) * page_size,
        limit=page_size,
    )
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
    return CasePage(items=items, page=page, page_size=page_size, total=total)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
