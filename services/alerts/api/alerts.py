"""Inbox, detail, acknowledge / resolve / snooze and the live stream.

Need-to-know: a legal advocate sees the alerts assigned to them, a supervisor those of their
organisation; every other role (admin included) gets 403. An alert outside the caller's scope
answers 404 exactly like a missing one, so ids cannot be probed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import StreamingResponse

from services.alerts import service_metrics as m
from services.alerts.api.deps import ctx
from services.alerts.api.schemas import AlertDetail, AlertOut, AlertPage, CommentIn, Severity, SnoozeIn, Status
from services.alerts.context import AlertsContext
from services.alerts.lifecycle import ACK_FROM, READER_ROLES, RESOLVE_FROM, SNOOZE_FROM, scope_filter, visible
from services.alerts.live import OVERFLOW
from shared import outbox
from shared.auth import Principal, require
from shared.events.alerts import AlertAcknowledged, AlertResolved
from shared.topics import ALERTS

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])
Reader = Annotated[Principal, Depends(require(*READER_ROLES))]
Ctx = Annotated[AlertsContext, Depends(ctx)]
MAX_SNOOZE = timedelta(days=90)


def _scope(principal: Principal) -> dict[str, Any]:
    scope = scope_filter(principal)
    if scope is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "supervisor token carries no org claim")
    return scope


def _not_found() -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, "alert not found")


@router.get("", response_model=AlertPage, summary="the caller's inbox, newest first")
def inbox(
    principal: Reader,
    c: Ctx,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    rule: Annotated[str | None, Query(max_length=100)] = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> AlertPage:
    filters: dict[str, Any] = {}
    for key, value in (("status", status_), ("severity", severity), ("rule", rule), ("case_id", case_id)):
        if value is not None:
            filters[key] = value
    docs, total = c.alerts.page(_scope(principal), filters, limit, offset)
    base = c.settings.public_base_url
    return AlertPage(
        items=[AlertOut.from_doc(d, base) for d in docs],
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + len(docs) if offset + len(docs) < total else None,
    )


@router.get("/stream", summary="Server-Sent Events of new and changed alerts visible to the caller")
async def stream(request: Request, principal: Reader, c: Ctx) -> StreamingResponse:
    _scope(principal)
    heartbeat = c.settings.sse_heartbeat_seconds
    base = c.settings.public_base_url
    sub = c.broadcaster.subscribe(asyncio.get_running_loop(), lambda alert: visible(principal, alert))
    m.sse_clients.inc()

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 3000\n: connected\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), timeout=heartbeat)
                except TimeoutError:
                    yield ": heartbeat\n\n"
                    continue
                if item is OVERFLOW:
                    yield "event: overflow\ndata: {}\n\n"
                    return
                alert = AlertOut.from_doc(item["alert"], base)
                data = json.dumps({"change": item["change"], "alert": alert.model_dump(mode="json")})
                yield f"event: alert\ndata: {data}\n\n"
        finally:
            c.broadcaster.unsubscribe(sub)
            m.sse_clients.dec()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{alert_id}", response_model=AlertDetail, summary="one alert with its evidence and history")
def get_alert(alert_id: str, principal: Reader, c: Ctx) -> AlertDetail:
    doc = c.alerts.get(alert_id, _scope(principal))
    if doc is None:
        raise _not_found()
    return AlertDetail.from_doc(doc, c.settings.public_base_url)


def _load_for_action(c: AlertsContext, alert_id: str, principal: Principal, allowed: tuple[str, ...], verb: str) -> Any:
    doc = c.alerts.get(alert_id, _scope(principal))
    if doc is None:
        raise _not_found()
    if doc["status"] not in allowed:
        raise HTTPException(status.HTTP_409_CONFLICT, f"alert is {doc['status']}; cannot {verb} it")
    return doc


def _changed(c: AlertsContext, change: str, after: dict[str, Any] | None, verb: str) -> AlertDetail:
    if after is None:
        # between our read and the conditional update, someone else moved it out of an allowed state
        raise HTTPException(status.HTTP_409_CONFLICT, f"alert changed meanwhile; reload it before you {verb} it")
    c.outbox_written()
    c.broadcaster.publish(change, after)
    return AlertDetail.from_doc(after, c.settings.public_base_url)


def _history(action: str, by: str, now: datetime, comment: str | None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": now, "action": action, "by": by, **extra}
    if comment:
        entry["comment"] = comment
    return entry


@router.post("/{alert_id}/ack", response_model=AlertDetail, summary="acknowledge: stops escalation")
def acknowledge(alert_id: str, body: CommentIn, principal: Reader, c: Ctx) -> AlertDetail:
    doc = _load_for_action(c, alert_id, principal, ACK_FROM, "acknowledge")
    now = datetime.now(UTC)
    # The comment stays in the service: free text may name the child, and events reach webhooks.
    event = AlertAcknowledged(
        case_id=doc["case_id"], alert_id=alert_id, rule=doc["rule"], episode=doc["episode"], by=principal.sub,
        acknowledged_at=now,
    )  # fmt: skip
    after = c.alerts.transition(
        alert_id,
        ACK_FROM,
        {"status": "acknowledged", "acknowledged_at": now, "acknowledged_by": principal.sub, "updated_at": now},
        _history("acknowledged", principal.sub, now, body.comment),
        outbox.entries(ALERTS, event),
    )
    result = _changed(c, "acknowledged", after, "acknowledge")
    raised = doc["raised_at"] if doc["raised_at"].tzinfo else doc["raised_at"].replace(tzinfo=UTC)
    m.time_to_ack.observe(max(0.0, (now - raised).total_seconds()))
    return result


@router.post("/{alert_id}/resolve", response_model=AlertDetail, summary="resolve by hand")
def resolve(alert_id: str, body: CommentIn, principal: Reader, c: Ctx) -> AlertDetail:
    doc = _load_for_action(c, alert_id, principal, RESOLVE_FROM, "resolve")
    now = datetime.now(UTC)
    reason = "resolved by hand"
    event = AlertResolved(
        case_id=doc["case_id"], alert_id=alert_id, rule=doc["rule"], episode=doc["episode"], auto=False,
        reason=reason, by=principal.sub, resolved_at=now,
    )  # fmt: skip
    after = c.alerts.transition(
        alert_id,
        RESOLVE_FROM,
        {
            "status": "resolved",
            "resolved_at": now,
            "resolved_by": principal.sub,
            "resolved_auto": False,
            "resolution_reason": reason,
            "updated_at": now,
        },
        _history("resolved", principal.sub, now, body.comment, auto=False),
        outbox.entries(ALERTS, event),
    )
    return _changed(c, "resolved", after, "resolve")


@router.post("/{alert_id}/snooze", response_model=AlertDetail, summary="hide and pause escalation until a time")
def snooze(alert_id: str, body: SnoozeIn, principal: Reader, c: Ctx) -> AlertDetail:
    now = datetime.now(UTC)
    until = body.until.astimezone(UTC)
    if until <= now or until - now > MAX_SNOOZE:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"field": "body.until", "type": "value_error", "msg": "must be in the future and at most 90 days ahead"}],
        )
    _load_for_action(c, alert_id, principal, SNOOZE_FROM, "snooze")
    after = c.alerts.transition(
        alert_id,
        SNOOZE_FROM,
        {"status": "snoozed", "snoozed_until": until, "snoozed_by": principal.sub, "updated_at": now},
        _history("snoozed", principal.sub, now, body.comment, until=until),
        [],
    )
    return _changed(c, "snoozed", after, "snooze")
