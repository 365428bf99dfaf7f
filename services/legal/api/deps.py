"""Every dependency the legal routes take, as ``Annotated`` aliases: routes name what they need.

The role guards audit their refusals (who, role, which action, which case, the request id), as
intake's do, so a probe by a role that may never use a route leaves a trail (issue 11 item 3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status

from services.legal.service import Actor, LegalService
from shared.auth import Principal, current_principal

_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")

# The audit action of each route, for refusals that happen before the route runs.
ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/court-updates"): "legal.court_update.record",
    ("GET", "/v1/cases/{case_id}/legal-timeline"): "legal.timeline.read",
    ("GET", "/v1/legal/cases"): "legal.case.list",
    ("GET", "/v1/calendar"): "legal.calendar.read",
    ("POST", "/v1/calendar/feed"): "legal.calendar_feed.rotate",
    ("DELETE", "/v1/calendar/feed"): "legal.calendar_feed.revoke",
    ("GET", "/v1/audit"): "legal.audit.read",
}


def get_service(request: Request) -> LegalService:
    service: LegalService = request.app.state.service
    return service


Service = Annotated[LegalService, Depends(get_service)]


def request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


RequestId = Annotated[str | None, Depends(request_id)]


def require(*roles: str) -> Callable[..., Principal]:
    """The caller must hold one of ``roles``: 403 otherwise, and the refusal is audited."""

    def dependency(
        request: Request, service: Service, principal: Annotated[Principal, Depends(current_principal)]
    ) -> Principal:
        if not principal.has(*roles):
            route = request.scope.get("route")
            path = str(getattr(route, "path", request.url.path))
            raw = request.path_params.get("case_id")
            case_id = raw if isinstance(raw, str) and _CASE_ID.fullmatch(raw) else None
            action = ACTIONS.get((request.method, path), f"legal.{request.method} {path}")
            service.audit_refusal(Actor.of(principal, request_id(request)), action, case_id, "denied", "role")
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


Integrator = Annotated[Principal, Depends(require("court_integrator"))]
# court updates: integrator systems, and people recording on cases in their scope
Recorder = Annotated[Principal, Depends(require("court_integrator", "legal_advocate", "supervisor"))]
# a case's timeline, the calendar: its advocate, its org's supervisors
Reader = Annotated[Principal, Depends(require("legal_advocate", "supervisor"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]
Admin = Annotated[Principal, Depends(require("admin"))]

CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
