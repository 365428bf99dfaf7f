"""/v1/audit (admins) and /v1/stats (aggregate counts, no case data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.intake.api import schemas as s
from services.intake.api.deps import AuditCaller, Ix, StatsCaller
from services.intake.service import oversight
from services.intake.store.repository import AuditQuery
from shared.bounds import QueryDatetime

router = APIRouter()


@router.get("/audit", response_model=s.AuditPage, tags=["audit"], summary="the audit log (admins)")
def read_audit(
    ix: Ix,
    caller: AuditCaller,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|not_found)$")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[QueryDatetime | None, Query(description="from this instant (no offset: UTC)")] = None,
    until: Annotated[QueryDatetime | None, Query(description="before this instant (no offset: UTC)")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1)] = 50,
) -> s.AuditPage:
    query = AuditQuery(
        case_id=case_id,
        actor=actor,
        action=action,
        org=org,
        outcome=outcome,
        request_id=request_id,
        since=since,
        until=until,
    )
    found = oversight.read_audit(ix, caller, query, page, page_size)
    items = [s.AuditOut.model_validate(r.to_mongo().to_dict()) for r in found.records]
    return s.AuditPage(items=items, page=page, page_size=page_size, total=found.total)


@router.get("/stats", response_model=s.Stats, tags=["ops"], summary="aggregate case counts (no case data)")
def stats(ix: Ix, caller: StatsCaller) -> s.Stats:
    counts = oversight.stats(ix, caller)
    return s.Stats(scope=counts.scope, cases_total=sum(counts.by_status.values()), cases_by_status=counts.by_status)
