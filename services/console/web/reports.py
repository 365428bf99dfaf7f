"""Reportes / Reports: the justice-access figures of the reports service as tables with bars.

Aggregates only; the reports service suppresses every figure resting on fewer than ``k`` cases
and the page says so instead of showing a number.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.console.adapters.apis import ApiError, ApiUnavailable
from services.console.web import labels
from services.console.web.core import Page, roles

router = APIRouter()
Reader = Annotated[Page, Depends(roles("supervisor", "admin", "ops_viewer"))]
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@router.get("/reports")
def reports(
    page: Reader,
    group_by: Annotated[str | None, Query(max_length=20)] = None,
    period_from: Annotated[str | None, Query(alias="from", max_length=7)] = None,
    period_to: Annotated[str | None, Query(alias="to", max_length=7)] = None,
) -> Response:
    assert page.user is not None
    filters = {
        "group_by": group_by if group_by in labels.REPORT_DIMENSIONS else "",
        "from": period_from if period_from and MONTH.match(period_from) else "",
        "to": period_to if period_to and MONTH.match(period_to) else "",
    }
    data: dict[str, Any] | None = None
    error = None
    client = page.console.apis.reports
    assert client is not None
    try:
        data = client.get(page.user, "/v1/reports/justice-access", params=filters)
    except ApiError as exc:
        error = (
            "Check the months: the first must not be after the last."
            if exc.status == 422
            else "The reports service refused the request."
        )
    except ApiUnavailable:
        error = "The reports service is not answering. Try again in a moment."
    return page.render("reports.html", data=data, error=error, filters=filters, pct=pct)


def pct(value: Any) -> str:
    """A share (0..1) as a percentage; a suppressed or missing share as a dash."""
    return f"{value * 100:.0f} %" if isinstance(value, int | float) else "—"
