"""Admin-only configuration: webhook subscriptions (+ their delivery log) and the staff directory."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status

from services.alerts.api.deps import ctx
from services.alerts.api.schemas import (
    DeliveryOut,
    DirectoryIn,
    DirectoryOut,
    SubscriptionIn,
    SubscriptionOut,
)
from services.alerts.context import AlertsContext
from shared.auth import Principal, require

router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, Depends(require("admin"))]
Ctx = Annotated[AlertsContext, Depends(ctx)]
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


@router.post("/v1/subscriptions", response_model=SubscriptionOut, status_code=201, summary="add a webhook")
def create_subscription(body: SubscriptionIn, principal: Admin, c: Ctx) -> SubscriptionOut:
    doc = c.subscriptions.create(
        {
            "url": str(body.url),
            "secret": body.secret,
            "rules": body.filter.rules,
            "severities": list(body.filter.severities),
            "org_id": body.filter.org_id,
            "description": body.description,
            "created_at": datetime.now(UTC),
            "created_by": principal.sub,
        }
    )
    return SubscriptionOut.from_doc(doc)


@router.get("/v1/subscriptions", response_model=list[SubscriptionOut], summary="list webhooks (no secrets)")
def list_subscriptions(principal: Admin, c: Ctx) -> list[SubscriptionOut]:
    return [SubscriptionOut.from_doc(d) for d in c.subscriptions.all()]


@router.get("/v1/subscriptions/{sub_id}", response_model=SubscriptionOut)
def get_subscription(sub_id: str, principal: Admin, c: Ctx) -> SubscriptionOut:
    doc = c.subscriptions.get(sub_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "subscription not found")
    return SubscriptionOut.from_doc(doc)


@router.delete("/v1/subscriptions/{sub_id}", status_code=204, summary="remove a webhook (pending deliveries stop)")
def delete_subscription(sub_id: str, principal: Admin, c: Ctx) -> Response:
    if not c.subscriptions.delete(sub_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "subscription not found")
    return Response(status_code=204)


@router.get(
    "/v1/subscriptions/{sub_id}/deliveries", response_model=list[DeliveryOut], summary="delivery attempts, newest first"
)
def list_deliveries(
    sub_id: str,
    principal: Admin,
    c: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DeliveryOut]:
    if c.subscriptions.get(sub_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "subscription not found")
    return [DeliveryOut(id=d.pop("_id"), **d) for d in c.deliveries.page(sub_id, limit, offset)]


@router.put("/v1/directory/{user_id}", response_model=DirectoryOut, summary="set a staff member's e-mail and org")
def put_directory(user_id: UserId, body: DirectoryIn, principal: Admin, c: Ctx) -> DirectoryOut:
    doc = c.directory.put(user_id, body.email, body.org_id, body.role, principal.sub, datetime.now(UTC))
    return DirectoryOut(
        user_id=user_id, email=doc["email"], org_id=doc["org_id"], role=doc["role"], updated_at=doc["updated_at"]
    )


@router.get("/v1/directory/{user_id}", response_model=DirectoryOut)
def get_directory(user_id: UserId, principal: Admin, c: Ctx) -> DirectoryOut:
    doc = c.directory.get(user_id)
    if doc is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "directory entry not found")
    return DirectoryOut(
        user_id=doc["_id"], email=doc["email"], org_id=doc["org_id"], role=doc["role"], updated_at=doc.get("updated_at")
    )


@router.delete("/v1/directory/{user_id}", status_code=204)
def delete_directory(user_id: UserId, principal: Admin, c: Ctx) -> Response:
    if not c.directory.delete(user_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "directory entry not found")
    return Response(status_code=204)
