"""The query parameters that filter the audit trail, shared by every service's ``GET /v1/audit``.

A FastAPI dependency: the route takes ``filters: AuditFilters`` and adds what is its own (the
``service`` filter, paging) with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from shared.audit import AuditQuery
from shared.bounds import QueryDatetime


def audit_filters(
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    org: Annotated[str | None, Query(max_length=64)] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|not_found)$")] = None,
    request_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[QueryDatetime | None, Query(description="from this instant (no offset: UTC)")] = None,
    until: Annotated[QueryDatetime | None, Query(description="before this instant (no offset: UTC)")] = None,
) -> AuditQuery:
    return AuditQuery(
        case_id=case_id,
        actor=actor,
        action=action,
        org=org,
        outcome=outcome,
        request_id=request_id,
        since=since,
        until=until,
    )


AuditFilters = Annotated[AuditQuery, Depends(audit_filters)]
