"""Reports routes: justice-access figures (JSON and CSV) and the anonymised export.

Aggregates only, never a case: supervisors see their own organisation, admins and operations
(``ops_viewer``) every organisation. The export is for admins. Every call, refusals included, is recorded
on the shared audit trail (:mod:`services.reports.api.audit`).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from services.reports.api.audit import get_reports, refuse, require, who
from services.reports.domain.figures import DIMENSIONS
from services.reports.service.reports import FIGURES_CSV, FIGURES_READ, ReportQuery, Reports, export_csv
from services.reports.settings import ReportsSettings
from shared.auth import Principal
from shared.vocab import EXTERNAL_ID_PATTERN

router = APIRouter(prefix="/v1/reports", tags=["reports"])

MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-\d{2})?$")
FIGURE_ROLES = ("supervisor", "admin", "ops_viewer")


Rp = Annotated[Reports, Depends(get_reports)]
FigureCaller = Annotated[Principal, Depends(require(*FIGURE_ROLES))]


def _invalid(field: str, msg: str) -> HTTPException:
    return HTTPException(422, [{"field": field, "type": "value_error", "msg": msg}])


def _month(field: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not MONTH_RE.match(value):
        raise _invalid(f"query.{field}", "must be a month YYYY-MM (or a date YYYY-MM-DD)")
    return value[:7]


def build_query(
    request: Request,
    caller: FigureCaller,
    org: Annotated[str | None, Query(pattern=EXTERNAL_ID_PATTERN, description="organisation id")] = None,
    region: Annotated[
        str | None, Query(pattern=r"^([A-Z]{2}-[A-Z0-9]{1,3}|\d{2}(\d{2}){0,2}|uncoded)$", description="coded region")
    ] = None,
    exploitation: Annotated[str | None, Query(pattern=r"^[A-Za-z]{1,40}$", description="HTCDS type")] = None,
    period_from: Annotated[str | None, Query(alias="from", description="first month, YYYY-MM")] = None,
    period_to: Annotated[str | None, Query(alias="to", description="last month, YYYY-MM")] = None,
    group_by: Annotated[str | None, Query(description=f"one of {', '.join(DIMENSIONS)}")] = None,
) -> ReportQuery:
    if group_by is not None and group_by not in DIMENSIONS:
        raise _invalid("query.group_by", f"must be one of {', '.join(DIMENSIONS)}")
    if not caller.has("admin", "ops_viewer"):
        # a supervisor sees their own organisation only
        if not caller.org:
            raise refuse(request, caller, "no_org", "a supervisor token must carry an org")
        if org and org != caller.org:
            raise refuse(request, caller, "other_org", "supervisors see their own organisation only", asked_org=org)
        org = caller.org
    start, end = _month("from", period_from), _month("to", period_to)
    if start and end and start > end:
        raise _invalid("query.from", "must not be after 'to'")
    return ReportQuery(
        org=org, region=region, exploitation=exploitation, period_from=start, period_to=end, group_by=group_by
    )


Q = Annotated[ReportQuery, Depends(build_query)]


def figures_read(request: Request, caller: FigureCaller, q: Q, reports: Rp, action: str) -> dict[str, Any]:
    """The figures, and the record of who read which (the filters' codes and how many groups)."""
    report = reports.justice_access(q)
    details = {"filters": report["filters"], "group_by": q.group_by, "groups": len(report["groups"])}
    reports.record(who(request, caller), action, details=details)
    return report


@router.get("/justice-access", summary="justice-access figures (aggregate, small cells suppressed; audited)")
def justice_access(request: Request, caller: FigureCaller, q: Q, reports: Rp) -> dict[str, Any]:
    return figures_read(request, caller, q, reports, FIGURES_READ)


@router.get(
    "/justice-access.csv",
    summary="the same figures as CSV, one row per group (audited)",
    response_class=PlainTextResponse,
)
def justice_access_csv(request: Request, caller: FigureCaller, q: Q, reports: Rp) -> Response:
    report = figures_read(request, caller, q, reports, FIGURES_CSV)
    return Response(
        reports.csv_of(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="justice-access.csv"'},
    )


class ExportRequest(BaseModel):
    k: int | None = Field(None, ge=2, le=1000, description="minimum size of every quasi-identifier combination")
    reason: str = Field(min_length=3, max_length=500, description="why and for whom (kept in the audit log)")


@router.post(
    "/exports",
    summary="anonymised HTCDS 2.0-shaped export (admin; audited)",
    response_class=PlainTextResponse,
)
def create_export(
    body: ExportRequest,
    request: Request,
    caller: Annotated[Principal, Depends(require("admin"))],
    reports: Rp,
) -> Response:
    settings: ReportsSettings = request.app.state.settings
    result = reports.export(
        k=body.k or settings.reports_export_k,
        max_suppressed=settings.reports_export_max_suppressed,
        who=who(request, caller),
        reason=body.reason,
    )
    summary = result.summary()
    return Response(
        export_csv(result.rows),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="centinela-htcds-export.csv"',
            "X-Export-K": str(summary["k"]),
            "X-Export-Rows": str(summary["output_rows"]),
            "X-Export-Suppressed-Rows": str(summary["suppressed_rows"]),
        },
    )
