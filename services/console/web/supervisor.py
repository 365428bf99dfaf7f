"""Supervisor: the organisation's escalated alerts, unassigned cases and overdue prosecutions, with
reassignment; Agenda: the upcoming hearings and deadlines of the user's cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from services.console.adapters.apis import ApiError, ApiUnavailable
from services.console.domain import forms
from services.console.web.core import Csrf, Page, PageError, redirect, roles
from services.console.web.inbox import age, load_inbox

router = APIRouter()
Supervisor = Annotated[Page, Depends(roles("supervisor"))]
AgendaReader = Annotated[Page, Depends(roles("legal_advocate", "supervisor"))]


def _advocates(page: Page) -> list[Any]:
    assert page.user is not None
    return [u for u in page.console.accounts.users.in_org(page.user.org) if u.active and u.has("legal_advocate")]


def _cases(page: Page, **params: Any) -> tuple[list[dict[str, Any]], str | None]:
    assert page.user is not None
    try:
        data = page.console.apis.intake.get(page.user, "/v1/cases", params={"limit": 200, **params})
        return list(data.get("items") or []), None
    except (ApiError, ApiUnavailable):
        return [], "The case registry is not answering. Try again in a moment."


@router.get("/supervisor")
def supervisor(page: Supervisor) -> Response:
    assert page.user is not None
    alerts, alerts_error = load_inbox(page, {"status": "open", "severity": "", "rule": ""})
    escalated = [a for a in alerts if a.get("escalation_level")]
    cases, cases_error = _cases(page)
    unassigned = [c for c in cases if not c.get("advocate_id")]
    overdue: list[dict[str, Any]] = []
    legal_error = None
    try:
        overdue = list(
            page.console.apis.legal.get(page.user, "/v1/legal/cases", params={"overdue": "true", "page_size": 100}).get(
                "items"
            )
            or []
        )
    except (ApiError, ApiUnavailable):
        legal_error = "The legal service is not answering."
    return page.render(
        "supervisor.html",
        open_alerts=alerts,
        escalated=escalated,
        unassigned=unassigned,
        overdue=overdue,
        errors=[e for e in (alerts_error, cases_error, legal_error) if e],
        advocates=_advocates(page),
        age=age,
    )


@router.post("/cases/{case_id}/advocate")
def reassign(
    case_id: str,
    page: Csrf,
    advocate_id: Annotated[str, Form(max_length=64)] = "",
    version: Annotated[str, Form(max_length=10)] = "",
    back: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if page.user is None or not page.user.has("supervisor", "intake_officer"):
        raise PageError(403, "Your role does not give access to this page.")
    errors: forms.Errors = {}
    advocate = forms.ident({"advocate_id": advocate_id}, "advocate_id", errors)
    if advocate not in {u.user_id for u in _advocates(page)}:
        raise PageError(422, "Choose an advocate of your organisation.")
    headers = {"If-Match": f'"{version}"'} if version.isdigit() else {}
    try:
        if not headers:
            case = page.console.apis.intake.get(page.user, f"/v1/cases/{case_id[:64]}")
            headers = {"If-Match": f'"{case["version"]}"'}
        page.console.apis.intake.call(
            page.user, "PATCH", f"/v1/cases/{case_id[:64]}", json={"advocate_id": advocate}, headers=headers
        )
        page.flash("Advocate assigned.")
    except ApiError as exc:
        if exc.status in (403, 404):
            raise PageError(404, "This case does not exist or is not assigned to you.") from None
        page.flash(
            "Someone changed the case meanwhile; look at it again and repeat."
            if exc.status in (409, 412, 428)
            else "The case registry refused the change."
        )
    except ApiUnavailable:
        page.flash("The case registry is not answering. Try again in a moment.")
    target = back if back.startswith("/") and not back.startswith("//") else f"/cases/{case_id}"
    return redirect(target, page)


def _agenda(page: Page, feed_url: str | None = None) -> Response:
    """The legal service's calendar of the user's cases (a supervisor's: the organisation's), as it
    answers it: hearings, stage deadlines and the other legal deadlines, soonest first."""
    assert page.user is not None
    items: list[dict[str, Any]] = []
    error = None
    scope = None
    try:
        data = page.console.apis.legal.get(
            page.user, "/v1/calendar", request_id=getattr(page.request.state, "request_id", None)
        )
        scope = data.get("scope")
        for item in data.get("items") or []:
            at = _at(item.get("at"))
            if at is not None and item.get("case_id"):
                items.append({**item, "at": at})
    except (ApiError, ApiUnavailable):
        error = "The legal service is not answering. Try again in a moment."
    items.sort(key=lambda i: (i["at"], i["case_id"]))
    return page.render("agenda.html", items=items, error=error, scope=scope, feed_url=feed_url)


@router.get("/agenda")
def agenda(page: AgendaReader) -> Response:
    return _agenda(page)


@router.post("/agenda/feed/{action}")
def agenda_feed(action: str, page: Csrf) -> Response:
    """Create/rotate or revoke the user's secret iCalendar URL in the legal service.

    The legal service keeps only a hash of the secret, so the URL is shown once, on the answer to
    the rotation; rotating again replaces it (the old one stops at once)."""
    user = page.user
    if user is None or not user.has("legal_advocate", "supervisor"):
        raise PageError(403, "Your role does not give access to this page.")
    if action not in ("rotate", "revoke"):
        raise PageError(404, "This page does not exist.")
    try:
        if action == "revoke":
            page.console.apis.legal.call(user, "DELETE", "/v1/calendar/feed")
            page.flash("Calendar link revoked: calendars that used it stop updating.")
            return redirect("/agenda")
        feed = page.console.apis.legal.post(user, "/v1/calendar/feed", {})
    except (ApiError, ApiUnavailable):
        page.flash("The legal service is not answering. Try again in a moment.")
        return redirect("/agenda")
    url = feed.get("url") if isinstance(feed, dict) else None
    return _agenda(page, feed_url=url if isinstance(url, str) else None)


def _at(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
