"""Every FastAPI dependency of the intake routers, as ``Annotated`` aliases.

A route declares who may call it with one of the ``*Caller`` aliases: the role guard (403 before any
lookup for roles that may never use the route) plus the request facts the audit trail keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request, status

from services.intake.domain import access, model
from services.intake.service.core import Caller, Intake, Invalid
from shared.auth import Principal, current_principal


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake


Ix = Annotated[Intake, Depends(get_intake)]


def guard(*roles: str) -> Callable[..., Caller]:
    """The caller must hold one of ``roles`` (403 otherwise)."""

    def dependency(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Caller:
        if not principal.has(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return Caller(
            principal=principal,
            request_id=getattr(request.state, "request_id", None),
            access_reason=request.headers.get("x-access-reason"),
        )

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


def if_match(request: Request) -> int | None:
    """The version named by ``If-Match`` (``"3"`` or ``W/"3"``); None when absent or ``*``."""
    raw = request.headers.get("if-match")
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
