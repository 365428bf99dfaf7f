"""GET /v1/audit on the legal service (admins): the same filters and page shape as intake's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from services.legal.api.deps import Admin, RequestId, Service
from services.legal.service import Actor
from services.legal.store.audit import AuditQuery
from shared.bounds import QueryDatetime

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    at: datetime
    actor: str
    role: str
    roles: list[str] = []
    org: str | None = None
    action: str
    case_id: str | None = None
    outcome: str
    request_id: str | None = None
    reason: str | None = None
    details: dict[str, Any] = {}


class AuditPage(BaseModel):
    items: list[AuditOut]
    page: int
    page_size: int
    total: int


@router.get("/v1/audit", response_model=AuditPage, summary="the legal service's audit log (admins)")
def read_audit(
    principal: Admin,
    service: Service,
    rid: RequestId,
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
) -> AuditPage:
    if page_size > service.settings.legal_page_size_max:
        raise HTTPException(
            422, [{"field": "query.page_size", "type": "less_than_equal", "msg": "page_size too large"}]
        )
    query = AuditQuery(case_id, actor, action, org, outcome, request_id, since, until)
    docs, total = service.audit_search(query, page, page_size)
    if service.audit is not None:  # reading the audit log is itself audited
        service.audit.record_many([Actor.of(principal, rid).record("legal.audit.read", case_id, "ok")])
    return AuditPage(items=[AuditOut(**_clean(d)) for d in docs], page=page, page_size=page_size, total=total)


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "_id" and k in AuditOut.model_fields}
    return out
