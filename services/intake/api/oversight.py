"""/v1/audit (admins) and /v1/stats (aggregate counts, no case data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.intake.api import schemas as s
from services.intake.api.deps import AuditCaller, Ix, StatsCaller
from services.intake.api.paging import PagingParams
from services.intake.service import oversight
from services.intake.service.paging import check_limit
from services.intake.store.repository import AuditQuery
from shared.bounds import QueryDatetime

router = APIRouter()


@router.get(
    "/audit",
    response_model=s.AuditPage,
    tags=["audit"],
    summary="the audit log, newest first, by cursor (admins)",
    responses={
        422: {
            "description": "a bad filter, `limit` above the maximum, or a `cursor` not issued for this "
            "caller and these filters (query.cursor)"
        }
    },
)
def read_audit(
    ix: Ix,
    caller: AuditCaller,
    paging: PagingParams,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|not_found)$")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[QueryDatetime | None, Query(description="from this instant (no offset: UTC)")] = None,
    until: Annotated[QueryDatetime | None, Query(description="before this instant (no offset: UTC)")] = None,
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
    check_limit(ix, paging.limit_field, paging.limit)
    found = oversight.read_audit(
        ix, caller, query, paging.limit, paging.cursor, page=paging.page, with_total=paging.total
    )
    items = [s.AuditOut.model_validate(r.to_mongo().to_dict()) for r in found.records]
    return s.AuditPage(
        items=items,
        limit=paging.limit,
        next_cursor=found.next_cursor,
        total=found.total,
        page=paging.page or 1,
        page_size=paging.limit,
    )


@router.get("/stats", response_model=s.Stats, tags=["ops"], summary="aggregate case counts (no case data)")
def stats(ix: Ix, caller: StatsCaller) -> s.Stats:
    counts = oversight.stats(ix, caller)
    return s.Stats(scope=counts.scope, cases_total=sum(counts.by_status.values()), cases_by_status=counts.by_status)
