"""GET /v1/audit on the legal service (admins): the trail it writes to (every service's records when they
share one collection, the default), by page number. Intake's GET /v1/audit is the admin's one query (cursor
paging, filter by service); this one stays for older clients."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel

from services.legal.api.deps import Admin, RequestId, Service
from services.legal.service import Actor
from shared.audit import service_of
from shared.audit_filters import AuditFilters

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    at: datetime
    service: str = "legal"
    actor: str
    role: str
    roles: list[str] = []
    route: str | None = None
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


@router.get(
    "/v1/audit",
    response_model=AuditPage,
    summary="the shared audit trail, by page (admins; prefer intake's GET /v1/audit)",
)
def read_audit(
    principal: Admin,
    service: Service,
    rid: RequestId,
    filters: AuditFilters,
    service_name: Annotated[
        Literal["intake", "legal", "alerts"] | None,
        Query(alias="service", description="only the records this service wrote"),
    ] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1)] = 50,
) -> AuditPage:
    if page_size > service.settings.legal_page_size_max:
        raise HTTPException(
            422, [{"field": "query.page_size", "type": "less_than_equal", "msg": "page_size too large"}]
        )
    query = dataclasses.replace(filters, service=service_name)
    docs, total = service.audit_search(query, page, page_size)
    if service.audit is not None:  # reading the audit log is itself audited
        service.audit.record_many([Actor.of(principal, rid).record("legal.audit.read", query.case_id, "ok")])
    return AuditPage(items=[AuditOut(**_clean(d)) for d in docs], page=page, page_size=page_size, total=total)


def _clean(doc: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in doc.items() if k != "_id" and k in AuditOut.model_fields}
    out["service"] = service_of(doc)
    return out
