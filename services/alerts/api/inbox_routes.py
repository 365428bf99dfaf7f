"""Inbox, detail, acknowledge / resolve / snooze and the live stream (thin: the use cases are in
``service.inbox``; a refusal there becomes its status code in ``main``).

Need-to-know: a legal advocate sees the alerts assigned to them, a supervisor those of their
organisation; every other role (admin included) gets 403. An alert outside the caller's scope
answers 404 exactly like a missing one, so ids cannot be probed. Every call is audited
(``api.audit``): the inbox page with the case ids it showed, one alert, the stream opening, each action,
and every refusal.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.alerts import metrics as m
from services.alerts.adapters.live_stream import OVERFLOW
from services.alerts.api.audit import audited
from services.alerts.api.deps import InboxDep, LiveDep, Reader, SettingsDep
from services.alerts.api.schemas import AlertDetail, AlertOut, AlertPage, CommentIn, Severity, SnoozeIn, Status
from services.alerts.domain.visibility import visible
from services.alerts.service.refusals import InvalidField

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("", response_model=AlertPage, summary="the caller's inbox, newest first")
def inbox(
    request: Request,
    principal: Reader,
    inbox: InboxDep,
    settings: SettingsDep,
    status_: Annotated[Status | None, Query(alias="status")] = None,
    severity: Severity | None = None,
    rule: Annotated[str | None, Query(max_length=100)] = None,
    case_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page (same filters)")
    ] = None,
    total: Annotated[bool, Query(description="also count every alert matching the filters (slower)")] = False,
    offset: Annotated[
        int | None,
        Query(ge=0, deprecated=True, description="replaced by `cursor`; only 0 (the first page) is accepted"),
    ] = None,
) -> AlertPage:
    if offset:
        # an old client paging by offset would otherwise get page one again and again
        raise InvalidField("query.offset", "the inbox pages by cursor: pass the previous page's next_cursor as cursor")
    filters: dict[str, Any] = {}
    for key, value in (("status", status_), ("severity", severity), ("rule", rule), ("case_id", case_id)):
        if value is not None:
            filters[key] = value
    page = audited(
        request,
        principal,
        lambda: inbox.page(principal, filters, limit, cursor, with_total=total),
        case_of=lambda _: case_id,
        details_of=lambda p: {
            "filters": sorted(filters),
            "items": len(p.items),
            "case_ids": sorted({str(d.get("case_id")) for d in p.items if d.get("case_id")}),
        },
    )
    base = settings.public_base_url
    items = [AlertOut.from_doc(d, base) for d in page.items]
    return AlertPage(items=items, limit=limit, next_cursor=page.next_cursor, total=page.total)


@router.get("/stream", summary="Server-Sent Events of new and changed alerts visible to the caller")
async def stream(
    request: Request, principal: Reader, inbox: InboxDep, live: LiveDep, settings: SettingsDep
) -> StreamingResponse:
    audited(request, principal, lambda: inbox.scope(principal))  # a supervisor without an org: 403 before it opens
    heartbeat = settings.sse_heartbeat_seconds
    base = settings.public_base_url
    sub = live.subscribe(asyncio.get_running_loop(), lambda alert: visible(principal, alert))
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
            live.unsubscribe(sub)
            m.sse_clients.dec()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{alert_id}", response_model=AlertDetail, summary="one alert with its evidence and history")
def get_alert(
    request: Request, alert_id: str, principal: Reader, inbox: InboxDep, settings: SettingsDep
) -> AlertDetail:
    doc = audited(request, principal, lambda: inbox.get(principal, alert_id), case_of=_case, alert_id=alert_id)
    return AlertDetail.from_doc(doc, settings.public_base_url)


def _case(doc: dict[str, Any]) -> str | None:
    case_id = doc.get("case_id")
    return case_id if isinstance(case_id, str) else None


@router.post("/{alert_id}/ack", response_model=AlertDetail, summary="acknowledge: stops escalation")
def acknowledge(
    request: Request, alert_id: str, body: CommentIn, principal: Reader, inbox: InboxDep, settings: SettingsDep
) -> AlertDetail:
    doc = audited(
        request,
        principal,
        lambda: inbox.acknowledge(principal, alert_id, body.comment),
        case_of=_case,
        alert_id=alert_id,
    )
    return AlertDetail.from_doc(doc, settings.public_base_url)


@router.post("/{alert_id}/resolve", response_model=AlertDetail, summary="resolve by hand")
def resolve(
    request: Request, alert_id: str, body: CommentIn, principal: Reader, inbox: InboxDep, settings: SettingsDep
) -> AlertDetail:
    doc = audited(
        request, principal, lambda: inbox.resolve(principal, alert_id, body.comment), case_of=_case, alert_id=alert_id
    )
    return AlertDetail.from_doc(doc, settings.public_base_url)


@router.post("/{alert_id}/snooze", response_model=AlertDetail, summary="hide and pause escalation until a time")
def snooze(
    request: Request, alert_id: str, body: SnoozeIn, principal: Reader, inbox: InboxDep, settings: SettingsDep
) -> AlertDetail:
    doc = audited(
        request,
        principal,
        lambda: inbox.snooze(principal, alert_id, body.until, body.comment),
        case_of=_case,
        alert_id=alert_id,
    )
    return AlertDetail.from_doc(doc, settings.public_base_url)
