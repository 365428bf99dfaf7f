"""The alerts service's audit records, written to the shared trail (``shared.audit``, ``service: alerts``).

Every route of the API records who did what: reads of alerts (the inbox page, one alert, the live stream
opening), actions on them (acknowledge, resolve, snooze), the admin configuration (subscriptions, their
deliveries, the directory, the policy), and every refusal: 403 by role (the guard below), 403 for a
supervisor token without an organisation, 404 for an alert that is missing (``not_found``) or outside the
caller's scope (``denied``, ``out_of_scope``: the caller sees the same 404 for both). A 409 (the alert is
not in a state that allows the action) is recorded with ``details.status``. A record carries ids and codes
only (alert id, subscription id, rule id, status), never a comment, an e-mail address or a URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request, status

from services.alerts.service.refusals import Conflict, Forbidden, NotFound, ServiceError
from shared.audit import AuditTrail, current_route
from shared.auth import ROLES, Principal, current_principal

T = TypeVar("T")

# The audit action of each route ("METHOD template"), for refusals before the route runs.
ACTIONS: dict[str, str] = {
    "GET /v1/alerts": "alerts.alert.list",
    "GET /v1/alerts/stream": "alerts.stream.open",
    "GET /v1/alerts/{alert_id}": "alerts.alert.read",
    "POST /v1/alerts/{alert_id}/ack": "alerts.alert.acknowledge",
    "POST /v1/alerts/{alert_id}/resolve": "alerts.alert.resolve",
    "POST /v1/alerts/{alert_id}/snooze": "alerts.alert.snooze",
    "POST /v1/subscriptions": "alerts.subscription.create",
    "GET /v1/subscriptions": "alerts.subscription.list",
    "GET /v1/subscriptions/{sub_id}": "alerts.subscription.read",
    "DELETE /v1/subscriptions/{sub_id}": "alerts.subscription.delete",
    "GET /v1/subscriptions/{sub_id}/deliveries": "alerts.subscription.deliveries",
    "PUT /v1/directory/{user_id}": "alerts.directory.set",
    "GET /v1/directory/{user_id}": "alerts.directory.read",
    "DELETE /v1/directory/{user_id}": "alerts.directory.delete",
    "GET /v1/admin/policy": "alerts.policy.read",
}


def action_of(request: Request) -> str:
    route = current_route() or f"{request.method} {request.url.path}"
    return ACTIONS.get(route, f"alerts.{route}")


def trail_of(request: Request) -> AuditTrail | None:
    trail = getattr(request.app.state, "audit", None)
    return trail if isinstance(trail, AuditTrail) else None


def record(
    request: Request,
    principal: Principal,
    outcome: str,
    *,
    case_id: str | None = None,
    details: dict[str, Any] | None = None,
    action: str | None = None,
) -> None:
    trail = trail_of(request)
    if trail is None:
        return
    rid = getattr(request.state, "request_id", None)
    trail.record(
        actor=principal.sub,
        role=principal.role,
        roles=sorted(principal.roles),
        org=principal.org,
        action=action or action_of(request),
        case_id=case_id,
        outcome=outcome,
        request_id=rid if isinstance(rid, str) else None,
        details=details,
    )


def guard(*roles: str) -> Callable[..., Principal]:
    """The caller must hold one of ``roles``: 403 otherwise, and the refusal is audited (who, role, route)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def dependency(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(*roles):
            record(request, principal, "denied", details={"why": "role", "allowed_roles": list(roles)})
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


def audited(
    request: Request,
    principal: Principal,
    run: Callable[[], T],
    *,
    case_of: Callable[[T], str | None] = lambda _: None,
    details_of: Callable[[T], dict[str, Any]] = lambda _: {},
    alert_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> T:
    """Run a use case and record its outcome; a refusal is recorded and raised again."""
    base = dict(details or {})
    if alert_id is not None:
        base["alert_id"] = alert_id[:64]
    try:
        result = run()
    except NotFound:
        doc = _alert(request, alert_id) if alert_id is not None else None
        if doc is not None:
            record(request, principal, "denied", case_id=doc.get("case_id"), details={**base, "why": "out_of_scope"})
        else:
            record(request, principal, "not_found", details={**base, "why": "not_found"})
        raise
    except Forbidden:
        record(request, principal, "denied", details={**base, "why": "forbidden"})
        raise
    except Conflict:
        doc = _alert(request, alert_id) if alert_id is not None else None
        case_id = doc.get("case_id") if doc is not None else None
        record(request, principal, "ok", case_id=case_id, details={**base, "status": 409})
        raise
    except ServiceError:
        raise  # a bad request (422): nothing was read or changed
    record(request, principal, "ok", case_id=case_of(result), details={**base, **details_of(result)})
    return result


def _alert(request: Request, alert_id: str | None) -> dict[str, Any] | None:
    """The alert whatever the caller's scope (only to tell out-of-scope from missing in the trail)."""
    service = getattr(request.app.state, "alerts", None)
    if service is None or alert_id is None:
        return None
    doc = service.inbox.alerts.get(alert_id)
    return doc if isinstance(doc, dict) else None
