"""Every FastAPI dependency of the intake routers, as ``Annotated`` aliases.

A route declares who may call it with one of the ``*Caller`` aliases: the role guard (403 before any
lookup for roles that may never use the route, written to the audit log) plus the request facts the
audit trail keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Path, Request, status

from services.intake.domain import access, model
from services.intake.service.core import CASE_ID_RE, Caller, Intake, Invalid, audit
from shared.auth import Principal, current_principal


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


Ix = Annotated[Intake, Depends(get_intake)]


# The audit action of each route (path below /v1), for refusals that happen before the use case runs.
ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/cases"): "case.create",
    ("GET", "/cases"): "case.list",
    ("GET", "/cases/{case_id}"): "case.read",
    ("PATCH", "/cases/{case_id}"): "case.update",
    ("POST", "/cases/{case_id}/services"): "service.plan",
    ("GET", "/cases/{case_id}/services"): "service.list",
    ("POST", "/cases/{case_id}/services/{service_id}/sessions"): "session.record",
    ("GET", "/cases/{case_id}/services/{service_id}/sessions"): "session.list",
    ("POST", "/cases/{case_id}/risk-flags"): "risk.flag",
    ("GET", "/cases/{case_id}/risk-flags"): "risk.list",
    ("POST", "/cases/{case_id}/follow-ups"): "followup.plan",
    ("PATCH", "/cases/{case_id}/follow-ups/{followup_id}"): "followup.record",
    ("POST", "/cases/{case_id}/referrals"): "referral.create",
    ("PATCH", "/cases/{case_id}/referrals/{referral_id}"): "referral.status",
    ("POST", "/cases/{case_id}/reintegration"): "reintegration.record",
    ("GET", "/cases/{case_id}/reintegration"): "reintegration.list",
    ("PUT", "/cases/{case_id}/prosecutor-refs"): "case_ref.set",
    ("GET", "/case-refs"): "case_ref.resolve",
    ("POST", "/cases/{case_id}/documents"): "document.add",
    ("GET", "/cases/{case_id}/documents"): "document.list",
    ("GET", "/cases/{case_id}/documents/{doc_id}"): "document.read",
    ("GET", "/audit"): "audit.read",
    ("GET", "/cases/{case_id}/views"): "case.views",
    ("GET", "/stats"): "stats.read",
}


def route_action(request: Request) -> str:
    route = request.scope.get("route")
    path = str(getattr(route, "path", request.url.path)).removeprefix("/v1")
    return ACTIONS.get((request.method, path), f"{request.method} /v1{path}")


ACCESS_REASON = (
    "why you access (kept in the audit record); required, 10 to 500 characters, for an admin's break-glass read"
)


def guard(*roles: str) -> Callable[..., Caller]:
    """The caller must hold one of ``roles``; a refusal is 403 and an audit record (who, role, what)."""

    def dependency(
        request: Request,
        ix: Ix,
        principal: Annotated[Principal, Depends(current_principal)],
        access_reason: Annotated[str | None, Header(alias="X-Access-Reason", description=ACCESS_REASON)] = None,
    ) -> Caller:
        caller = Caller(
            principal=principal, request_id=getattr(request.state, "request_id", None), access_reason=access_reason
        )
        if not principal.has(*roles):
            raw = request.path_params.get("case_id")
            case_id = raw if isinstance(raw, str) and CASE_ID_RE.fullmatch(raw) else None
            audit(
                ix,
                caller,
                route_action(request),
                case_id,
                outcome="denied",
                details={"why": "role", "allowed_roles": list(roles)},
            )
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return caller

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


CreateCaller = Annotated[Caller, Depends(guard(*access.CREATE_CASE))]
ListCaller = Annotated[Caller, Depends(guard(*access.LIST_CASES))]
ReadCaller = Annotated[Caller, Depends(guard(*access.READ_CASE))]
ManageCaller = Annotated[Caller, Depends(guard(*access.MANAGE_CASE))]
ServicesReadCaller = Annotated[Caller, Depends(guard(*access.READ_SERVICES))]
SessionCaller = Annotated[Caller, Depends(guard(*access.RECORD_SESSION))]
FlagCaller = Annotated[Caller, Depends(guard(*access.RAISE_FLAG))]
FlagsReadCaller = Annotated[Caller, Depends(guard(*access.READ_FLAGS))]
ReferralCaller = Annotated[Caller, Depends(guard(*access.REFERRALS))]
AuditCaller = Annotated[Caller, Depends(guard(*access.AUDIT))]
StatsCaller = Annotated[Caller, Depends(guard(*access.STATS))]
RefsCaller = Annotated[Caller, Depends(guard(*access.SET_PROSECUTOR_REFS))]
ResolveCaller = Annotated[Caller, Depends(guard(*access.RESOLVE_CASE_REF))]
DocumentAddCaller = Annotated[Caller, Depends(guard(*access.ADD_DOCUMENT))]
DocumentReadCaller = Annotated[Caller, Depends(guard(*access.READ_DOCUMENTS))]


def if_match(
    raw: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='the ETag of the version you read, e.g. "3" (required to change a case, optional elsewhere)',
        ),
    ] = None,
) -> int | None:
    """The version named by ``If-Match`` (``"3"`` or ``W/"3"``); None when absent or ``*``. Declared as
    a header so the OpenAPI document shows it."""
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    if not value.isdigit() or len(value) > 9:
        raise Invalid("header.If-Match", "format", 'expected an ETag like "3"')
    return int(value)


IfMatch = Annotated[int | None, Depends(if_match)]
CaseId = Annotated[str, Path(pattern=model.CASE_ID_PATTERN, description="opaque case id (cs_...)")]
ItemId = Annotated[str, Path(pattern=model.ITEM_ID_PATTERN)]


def etag(version: int) -> str:
    return f'"{version}"'
