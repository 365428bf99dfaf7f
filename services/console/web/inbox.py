"""Bandeja / Inbox: the user's alerts by severity and age, with acknowledge, snooze and resolve,
kept live by relaying the alerts service's stream (and re-read on a timer as a fallback)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.console.adapters.apis import ApiError, ApiUnavailable
from services.console.metrics import LIVE_STREAMS
from services.console.service.accounts import utcnow
from services.console.web import labels
from services.console.web.core import Csrf, Page, PageError, redirect, roles

log = logging.getLogger(__name__)
router = APIRouter()
ALERT_ROLES = ("legal_advocate", "supervisor")
Reader = Annotated[Page, Depends(roles(*ALERT_ROLES))]
PAGE_SIZE = 200
SNOOZE = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
}


def _filters(status: str | None, severity: str | None, rule: str | None) -> dict[str, str]:
    return {
        "status": status if status in labels.ALERT_STATUSES else "open",
        "severity": severity if severity in labels.SEVERITIES else "",
        "rule": rule if rule in labels.RULES else "",
    }


def load_inbox_page(
    page: Page,
    filters: dict[str, str],
    case_id: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """One page of the inbox and the alerts API's ``next_cursor`` (None on the last page).

    The API pages by cursor (newest first); an offset past 0 is refused there, so none is sent."""
    assert page.user is not None
    try:
        data = page.console.apis.alerts.get(
            page.user,
            "/v1/alerts",
            params={**filters, "case_id": case_id, "limit": limit, "cursor": cursor},
            request_id=getattr(page.request.state, "request_id", None),
        )
    except (ApiError, ApiUnavailable):
        return [], "The alerts service is not answering. The list will refresh by itself.", None
    items = list(data.get("items") or [])
    # most severe first, then the oldest: what has waited longest at the top of its severity
    items.sort(key=lambda a: (labels.SEVERITY_RANK.get(a.get("severity", "low"), 9), a.get("raised_at") or ""))
    next_cursor = data.get("next_cursor")
    return items, None, next_cursor if isinstance(next_cursor, str) and next_cursor else None


def load_inbox(
    page: Page, filters: dict[str, str], case_id: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    items, error, _next = load_inbox_page(page, filters, case_id)
    return items, error


def age(page: Page, raised_at: str | None) -> str:
    local = page.console.fmt.local(raised_at)
    if local is None:
        return ""
    seconds = max(0, int((utcnow() - local).total_seconds()))
    if seconds < 3600:
        return page._("%(n)s min", n=max(1, seconds // 60))
    if seconds < 48 * 3600:
        return page._("%(n)s h", n=seconds // 3600)
    return page._("%(n)s days", n=seconds // 86400)


def render_inbox(page: Page, template: str, filters: dict[str, str], cursor: str | None, **extra: Any) -> Response:
    """The inbox, or its list alone, at the page the user is on: a live refresh, a filter change
    and an action all redraw this same page (cursor and filters), never the first one by surprise."""
    cursor = cursor or None
    items, error, next_cursor = load_inbox_page(
        page, filters, cursor=cursor, limit=page.console.settings.console_inbox_page_size
    )
    return page.render(
        template,
        items=items,
        error=error,
        filters=filters,
        labels=labels,
        age=age,
        next_cursor=next_cursor,
        cursor=cursor,
        **extra,
    )


Status = Annotated[str | None, Query(max_length=20)]
Severity = Annotated[str | None, Query(max_length=20)]
Rule = Annotated[str | None, Query(max_length=100)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get("/inbox")
def inbox(
    page: Reader, status: Status = None, severity: Severity = None, rule: Rule = None, cursor: Cursor = None
) -> Response:
    return render_inbox(page, "inbox.html", _filters(status, severity, rule), cursor)


@router.get("/inbox/list")
def inbox_list(
    page: Reader, status: Status = None, severity: Severity = None, rule: Rule = None, cursor: Cursor = None
) -> Response:
    return render_inbox(page, "partials/alert_list.html", _filters(status, severity, rule), cursor)


@router.get("/inbox/stream")
async def inbox_stream(request: Request) -> Response:
    """Server-Sent Events: one ``alert`` event per change of an alert the user may see."""
    page = roles(*ALERT_ROLES)(request)
    assert page.user is not None
    user, apis = page.user, page.console.apis

    async def events() -> AsyncIterator[str]:
        yield "retry: 5000\n\n"
        LIVE_STREAMS.inc()
        try:
            async for change in apis.alert_stream(user):
                if await request.is_disconnected():
                    return
                if change == "heartbeat":
                    yield ": heartbeat\n\n"
                elif change == "overflow":
                    yield "event: alert\ndata: overflow\n\n"
                    return
                else:
                    yield f"event: alert\ndata: {change}\n\n"
        except (ApiError, ApiUnavailable, OSError) as exc:
            log.warning("live alert stream unavailable: %s", type(exc).__name__)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("live alert stream ended: %s", type(exc).__name__)
        finally:
            LIVE_STREAMS.dec()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


def _alert(page: Page, alert_id: str) -> dict[str, Any]:
    assert page.user is not None
    try:
        return dict(page.console.apis.alerts.get(page.user, f"/v1/alerts/{alert_id[:64]}"))
    except ApiError as exc:
        if exc.status in (403, 404, 422):
            raise PageError(404, "This alert does not exist or is not yours.") from None
        raise PageError(502, "The alerts service could not answer. Try again in a moment.") from None
    except ApiUnavailable:
        raise PageError(503, "The alerts service is not answering. Try again in a moment.") from None


@router.get("/alerts/{alert_id}")
def alert_page(alert_id: str, page: Reader) -> Response:
    alert = _alert(page, alert_id)
    return page.render("alert.html", alert=alert, labels=labels, age=age, error=None)


@router.post("/alerts/{alert_id}/{action}")
def alert_action(
    alert_id: str,
    action: str,
    page: Csrf,
    comment: Annotated[str, Form(max_length=2000)] = "",
    until: Annotated[str, Form(max_length=5)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
    status: Annotated[str, Form(max_length=20)] = "",
    severity: Annotated[str, Form(max_length=20)] = "",
    rule: Annotated[str, Form(max_length=100)] = "",
    cursor: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    user = page.user
    if user is None or not user.has(*ALERT_ROLES):
        raise PageError(403, "Your role does not give access to this page.")
    if action not in ("ack", "resolve", "snooze"):
        raise PageError(404, "This page does not exist.")
    body: dict[str, Any] = {"comment": comment.strip() or None}
    if action == "snooze":
        if until not in SNOOZE:
            raise PageError(422, "Choose for how long to snooze the alert.")
        body["until"] = (utcnow() + SNOOZE[until]).isoformat()
    error = None
    try:
        page.console.apis.alerts.post(user, f"/v1/alerts/{alert_id[:64]}/{action}", body)
    except ApiError as exc:
        if exc.status == 404:
            raise PageError(404, "This alert does not exist or is not yours.") from None
        error = (
            "Someone else changed this alert first; the list shows its state now."
            if exc.status == 409
            else "The alerts service refused the change."
        )
    except ApiUnavailable:
        error = "The alerts service is not answering. Try again in a moment."
    message = {"ack": "Alert acknowledged.", "resolve": "Alert resolved.", "snooze": "Alert snoozed."}[action]
    if page.is_htmx:
        # the list comes back as the user had it: same filters, same page
        return render_inbox(
            page,
            "partials/alert_list.html",
            _filters(status or None, severity or None, rule or None),
            cursor,
            action_done=True,
            action_error=error,
            notice=None if error else message,
        )
    page.flash(error or message)
    target = back if back.startswith("/") and not back.startswith("//") else "/inbox"
    return redirect(target)
