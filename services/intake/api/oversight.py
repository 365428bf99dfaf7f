"""/v1/audit (admins: the whole trail of every service), /v1/cases/{case_id}/views (who read or changed one
case) and /v1/stats (aggregate counts, no case data)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api.deps import AuditCaller, CaseId, Ix, StatsCaller, guard
from services.intake.api.paging import DEFAULT_LIMIT, PagingParams
from services.intake.service import oversight
from services.intake.service.core import Caller, Intake, audit, missing, out_of_scope
from services.intake.service.paging import check_limit, codec, decode, digest
from shared.audit import AuditQuery
from shared.audit_filters import AuditFilters
from shared.page_cursor import Position

router = APIRouter()

#: who may see who read or changed a case: its assigned advocate, its organisation's supervisors, admins
READ_VIEWS = ("legal_advocate", "supervisor", "admin")
ViewsCaller = Annotated[Caller, Depends(guard(*READ_VIEWS))]
Service = Literal["intake", "legal", "alerts", "reports"]


class AuditOut(s.Out):
    at: datetime
    service: str = Field(description="the service that wrote the record: intake, legal, alerts or reports")
    actor: str
    role: str
    roles: list[str]
    org: str | None = None
    action: str
    case_id: str | None = None
    outcome: str = Field(description="ok; denied (role or scope refused); not_found (the id does not exist)")
    request_id: str | None = None
    route: str | None = Field(None, description="the route template called, e.g. GET /v1/cases/{case_id}")
    reason: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AuditPage(s.Out):
    items: list[AuditOut]
    limit: int = Field(description="the page size asked for")
    next_cursor: str | None = Field(None, description=s._NEXT_CURSOR)
    total: int | None = Field(None, description=s._TOTAL)


@router.get(
    "/audit",
    response_model=AuditPage,
    tags=["audit"],
    summary="the audit trail of every service (intake, legal, alerts, reports), newest first, by cursor (admins)",
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
    filters: AuditFilters,
    service: Annotated[Service | None, Query(description="only the records this service wrote")] = None,
) -> AuditPage:
    query = dataclasses.replace(filters, service=service)
    check_limit(ix, paging.limit_field, paging.limit)
    found = oversight.read_audit(ix, caller, query, paging.limit, paging.cursor, with_total=paging.total)
    items = [AuditOut.model_validate(e.public()) for e in found.records]
    return AuditPage(
        items=items,
        limit=paging.limit,
        next_cursor=found.next_cursor,
        total=found.total,
    )


class CaseViewOut(s.Out):
    at: datetime
    actor: str = Field(description="the token subject of who acted")
    role: str
    action: str = Field(description="e.g. case.read, case.update, legal.timeline.read, alerts.alert.acknowledge")
    service: str = Field(description="intake, legal, alerts or reports")
    outcome: str = Field(description="ok; denied (refused); not_found")


class CaseViewPage(s.Out):
    items: list[CaseViewOut]
    limit: int = Field(description="the page size asked for")
    next_cursor: str | None = Field(None, description=s._NEXT_CURSOR)
    total: int | None = Field(None, description=s._TOTAL)


def may_see_views(caller: Caller, org_id: str | None, advocate_id: str | None) -> bool:
    p = caller.principal
    if p.has("admin"):
        return True
    if p.has("supervisor") and p.org is not None and p.org == org_id:
        return True
    return p.has("legal_advocate") and advocate_id is not None and advocate_id == p.sub


def read_views(
    ix: Intake, caller: Caller, case_id: str, limit: int, cursor: str | None, with_total: bool
) -> CaseViewPage:
    action = "case.views"
    case = ix.repo.get(case_id)
    if case is None:
        raise missing(ix, caller, action, case_id)
    if not may_see_views(caller, case.org_id, case.advocate_id):
        raise out_of_scope(ix, caller, action, case_id)
    query = AuditQuery(case_id=case_id)
    bound = digest(caller, {"case_id": case_id})
    after = decode(ix, "views", cursor, bound)
    entries, more = ix.audit.page(query, limit, after)
    next_cursor = None
    if more and entries:
        last = entries[-1]
        next_cursor = codec(ix, "views").encode(Position(last.at, str(last.pk)), bound)
    total = ix.audit.count(query) if with_total else None
    audit(ix, caller, action, case_id, details={"items": len(entries)})
    items = [
        CaseViewOut(at=e.at, actor=e.actor, role=e.role, action=e.action, service=e.service, outcome=e.outcome)
        for e in entries
    ]
    return CaseViewPage(items=items, limit=limit, next_cursor=next_cursor, total=total)


@router.get(
    "/cases/{case_id}/views",
    response_model=CaseViewPage,
    tags=["audit"],
    summary="who read or changed this case, in every service, newest first (audited)",
    description="The case's entries of the audit trail (reads, changes and refusals in intake, legal and "
    "alerts). For the case's assigned advocate, its organisation's supervisors and admins; anyone else "
    "gets 404 as for a case that does not exist.",
    responses={
        404: r.refusal("no such case, or not yours"),
        422: {"description": "a bad case id, `limit` above the maximum, or a `cursor` not issued for this caller"},
    },
)
def case_views(
    ix: Ix,
    caller: ViewsCaller,
    case_id: CaseId,
    limit: Annotated[
        int, Query(ge=1, description="items per page (at most CENTINELA_PAGE_SIZE_MAX, 200 by default)")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")] = None,
    total: Annotated[
        bool | None, Query(description="count the case's entries (default: on the first page only)")
    ] = None,
) -> CaseViewPage:
    check_limit(ix, "query.limit", limit)
    return read_views(ix, caller, case_id, limit, cursor, total if total is not None else cursor is None)


@router.get("/stats", response_model=s.Stats, tags=["ops"], summary="aggregate case counts (no case data)")
def stats(ix: Ix, caller: StatsCaller) -> s.Stats:
    counts = oversight.stats(ix, caller)
    return s.Stats(scope=counts.scope, cases_total=sum(counts.by_status.values()), cases_by_status=counts.by_status)
