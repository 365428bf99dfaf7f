"""Who may call the reports API, and the audit record of every call (``shared.audit``, ``service: reports``).

Every figures read (JSON and CSV) and every export is recorded on the one trail an admin reads with
``GET /v1/audit?service=reports`` on intake, and so is every refusal: 403 by role, 403 for a supervisor
token without an organisation or asking for another organisation's figures. A 401 names nobody and is only
counted; a 422 reads nothing. A record carries the caller's ids and the filters' codes (organisation id,
region code, exploitation type, months), never anything about a child.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status

from services.reports.service.reports import EXPORT, FIGURES_CSV, FIGURES_READ, Reports, Who
from shared.audit import current_route
from shared.auth import Principal, current_principal

#: the audit action of each route ("METHOD template"), also for refusals before the route runs
ACTIONS: dict[str, str] = {
    "GET /v1/reports/justice-access": FIGURES_READ,
    "GET /v1/reports/justice-access.csv": FIGURES_CSV,
    "POST /v1/reports/exports": EXPORT,
}


def get_reports(request: Request) -> Reports:
    reports: Reports = request.app.state.reports
    return reports


def who(request: Request, principal: Principal) -> Who:
    return Who.of(principal, getattr(request.state, "request_id", None))


def refuse(request: Request, principal: Principal, why: str, message: str, **details: Any) -> HTTPException:
    """The 403 to raise, recorded as ``denied`` with ``details.why`` (and the codes in ``details``)."""
    route = current_route() or f"{request.method} {request.url.path}"
    action = ACTIONS.get(route, f"reports.{route}")
    get_reports(request).record(who(request, principal), action, "denied", details={"why": why, **details})
    return HTTPException(status.HTTP_403_FORBIDDEN, message)


def require(*roles: str) -> Callable[..., Principal]:
    """The caller must hold one of ``roles``: 403 otherwise, audited (who, role, route)."""

    def dependency(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(*roles):
            message = f"requires one of the roles: {', '.join(roles)}"
            raise refuse(request, principal, "role", message, allowed_roles=list(roles))
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency
