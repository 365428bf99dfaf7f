"""Admin-only configuration: webhook subscriptions (+ their delivery log) and the staff directory. Every
call is audited (``api.audit``) with ids only: never a URL, a secret or an e-mail address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from services.alerts.api.audit import audited
from services.alerts.api.deps import Admin, ConfigurationDep, PolicyDep
from services.alerts.api.schemas import (
    DeliveryOut,
    DeliveryPage,
    DirectoryIn,
    DirectoryOut,
    PolicyOut,
    SubscriptionIn,
    SubscriptionOut,
)

router = APIRouter(tags=["admin"])
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


@router.post("/v1/subscriptions", response_model=SubscriptionOut, status_code=201, summary="add a webhook")
def create_subscription(
    request: Request, body: SubscriptionIn, principal: Admin, config: ConfigurationDep
) -> SubscriptionOut:
    fields = {
        "url": str(body.url),
        "secret": body.secret,
        "rules": body.filter.rules,
        "severities": list(body.filter.severities),
        "org_id": body.filter.org_id,
        "description": body.description,
    }
    doc = audited(
        request,
        principal,
        lambda: config.create_subscription(principal, fields),
        details_of=lambda d: {"sub_id": str(d.get("_id"))},
    )
    return SubscriptionOut.from_doc(doc)


@router.get("/v1/subscriptions", response_model=list[SubscriptionOut], summary="list webhooks (no secrets)")
def list_subscriptions(request: Request, principal: Admin, config: ConfigurationDep) -> list[SubscriptionOut]:
    docs = audited(request, principal, config.list_subscriptions, details_of=lambda ds: {"items": len(ds)})
    return [SubscriptionOut.from_doc(d) for d in docs]


@router.get("/v1/subscriptions/{sub_id}", response_model=SubscriptionOut)
def get_subscription(request: Request, sub_id: str, principal: Admin, config: ConfigurationDep) -> SubscriptionOut:
    doc = audited(request, principal, lambda: config.subscription(sub_id), details={"sub_id": sub_id[:64]})
    return SubscriptionOut.from_doc(doc)


@router.delete("/v1/subscriptions/{sub_id}", status_code=204, summary="remove a webhook (pending deliveries stop)")
def delete_subscription(request: Request, sub_id: str, principal: Admin, config: ConfigurationDep) -> Response:
    audited(request, principal, lambda: config.delete_subscription(sub_id), details={"sub_id": sub_id[:64]})
    return Response(status_code=204)


@router.get(
    "/v1/subscriptions/{sub_id}/deliveries", response_model=DeliveryPage, summary="delivery attempts, newest first"
)
def list_deliveries(
    request: Request,
    sub_id: str,
    principal: Admin,
    config: ConfigurationDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page")] = None,
) -> DeliveryPage:
    docs, next_cursor = audited(
        request, principal, lambda: config.deliveries_page(sub_id, limit, cursor), details={"sub_id": sub_id[:64]}
    )
    return DeliveryPage(items=[DeliveryOut(id=d.pop("_id"), **d) for d in docs], limit=limit, next_cursor=next_cursor)


@router.put("/v1/directory/{user_id}", response_model=DirectoryOut, summary="set a staff member's e-mail and org")
def put_directory(
    request: Request, user_id: UserId, body: DirectoryIn, principal: Admin, config: ConfigurationDep
) -> DirectoryOut:
    doc = audited(
        request,
        principal,
        lambda: config.put_directory(principal, user_id, body.email, body.org_id, body.role, language=body.language),
        details={"user_id": user_id, "org_id": body.org_id, "role": body.role},
    )
    return DirectoryOut(
        user_id=user_id,
        email=doc["email"],
        org_id=doc["org_id"],
        role=doc["role"],
        language=doc.get("language"),
        updated_at=doc["updated_at"],
    )


@router.get("/v1/directory/{user_id}", response_model=DirectoryOut)
def get_directory(request: Request, user_id: UserId, principal: Admin, config: ConfigurationDep) -> DirectoryOut:
    doc = audited(request, principal, lambda: config.directory_entry(user_id), details={"user_id": user_id})
    return DirectoryOut(
        user_id=doc["_id"],
        email=doc["email"],
        org_id=doc["org_id"],
        role=doc["role"],
        language=doc.get("language"),
        updated_at=doc.get("updated_at"),
    )


@router.delete("/v1/directory/{user_id}", status_code=204)
def delete_directory(request: Request, user_id: UserId, principal: Admin, config: ConfigurationDep) -> Response:
    audited(request, principal, lambda: config.delete_directory(user_id), details={"user_id": user_id})
    return Response(status_code=204)


@router.get(
    "/v1/admin/policy",
    response_model=PolicyOut,
    summary="the effective alert policy: shipped defaults plus the operator's overrides (marked)",
)
def get_policy(request: Request, principal: Admin, policy: PolicyDep) -> PolicyOut:
    # the policy holds rule ids and thresholds only, no case data; the read is audited like every call
    return PolicyOut.model_validate(audited(request, principal, policy.describe))
