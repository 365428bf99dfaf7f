"""Hearings and deadlines ahead, per advocate (issue 12 item 6): a JSON list and a secret iCalendar feed.

* ``GET /v1/calendar``: the caller's cases (advocate) or their organisation's (supervisor);
* ``POST /v1/calendar/feed``: create or rotate the caller's secret feed URL (the old one stops at once);
* ``DELETE /v1/calendar/feed``: revoke it;
* ``GET /v1/calendar/feed/{secret}.ics``: the feed, for calendar applications that cannot send a
  bearer token. The secret is the credential (256 bits, stored hashed); an event carries the case
  code and the kind of item only, never the child's data.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field

from services.legal.api import ical
from services.legal.api.deps import Reader, RequestId, Service
from services.legal.domain.bounds import RANGE_TEXT, QueryInstant
from services.legal.service import Actor, AgendaItem

router = APIRouter(tags=["calendar"])


class CalendarItem(BaseModel):
    case_id: str
    kind: str = Field(description="hearing, stage_deadline, or a deadline kind (appeal_sentence, ...)")
    at: datetime = Field(description="a hearing's start; a deadline's end (the end of its last day, local time)")
    ref: str | None = Field(None, description="the hearing id, the stage, or the deadline id")
    article: str | None = Field(None, description="the article the deadline rests on")


class CalendarPage(BaseModel):
    scope: Literal["advocate", "organisation"]
    start: datetime
    end: datetime
    items: list[CalendarItem]


class Feed(BaseModel):
    url: str = Field(description="secret URL of the iCalendar feed: anyone holding it reads the calendar")
    created_at: datetime


def _items(items: list[AgendaItem]) -> list[CalendarItem]:
    return [CalendarItem(case_id=i.case_id, kind=i.kind, at=i.at, ref=i.ref, article=i.article) for i in items]


@router.get(
    "/v1/calendar",
    response_model=CalendarPage,
    summary="upcoming hearings and deadlines of my cases (supervisors: of my organisation)",
    responses={403: {"description": "neither legal_advocate nor supervisor"}},
)
def get_calendar(
    principal: Reader,
    service: Service,
    rid: RequestId,
    start: Annotated[QueryInstant | None, Query(alias="from", description=f"default now ({RANGE_TEXT})")] = None,
    end: Annotated[QueryInstant | None, Query(alias="to", description="default now + the configured horizon")] = None,
) -> CalendarPage:
    now = datetime.now(UTC)
    start = start or now
    end = end or now + timedelta(days=service.settings.legal_calendar_horizon_days)
    if end <= start:
        raise HTTPException(422, [{"field": "query.to", "type": "value_error", "msg": "must be after from"}])
    if end - start > timedelta(days=731):
        raise HTTPException(422, [{"field": "query.to", "type": "value_error", "msg": "at most 731 days after from"}])
    supervisor = principal.has("supervisor") and bool(principal.org)
    if supervisor:
        items = service.calendar(org_id=principal.org, start=start, end=end)
    else:
        items = service.calendar(advocate_id=principal.sub, start=start, end=end)
    if service.audit is not None:
        actor = Actor.of(principal, rid)
        service.audit.record_many([actor.record("legal.calendar.read", None, "ok", {"items": len(items)})])
    return CalendarPage(scope="organisation" if supervisor else "advocate", start=start, end=end, items=_items(items))


@router.post(
    "/v1/calendar/feed", response_model=Feed, status_code=201, summary="create or rotate my secret iCalendar URL"
)
def rotate_feed(principal: Reader, service: Service, rid: RequestId, request: Request) -> Feed:
    assert service.feeds is not None
    secret, created = service.feeds.rotate(principal.sub, principal.org, sorted(principal.roles))
    if service.audit is not None:
        service.audit.record_many([Actor.of(principal, rid).record("legal.calendar_feed.rotate", None, "ok")])
    url = str(request.url_for("calendar_feed", secret=f"{secret}.ics"))
    return Feed(url=url, created_at=created)


@router.delete("/v1/calendar/feed", status_code=204, summary="revoke my iCalendar URL")
def revoke_feed(principal: Reader, service: Service, rid: RequestId) -> Response:
    assert service.feeds is not None
    found = service.feeds.revoke(principal.sub)
    if service.audit is not None:
        outcome = "ok" if found else "not_found"
        service.audit.record_many([Actor.of(principal, rid).record("legal.calendar_feed.revoke", None, outcome)])
    return Response(status_code=204)


@router.get(
    "/v1/calendar/feed/{secret}",
    name="calendar_feed",
    summary="the iCalendar feed behind a secret URL (no bearer token: the URL is the credential)",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}}, 404: {"description": "unknown or revoked URL"}},
)
def calendar_feed(secret: str, service: Service, rid: RequestId) -> Response:
    token = secret.removesuffix(".ics")
    owner = service.feeds.owner(token) if service.feeds is not None and len(token) <= 128 else None
    if owner is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no calendar at this address")
    now = datetime.now(UTC)
    items = service.calendar_for(owner["sub"], owner.get("org"), owner.get("roles") or [], now)
    if service.audit is not None:
        actor = Actor(owner["sub"], "calendar_feed", tuple(owner.get("roles") or ()), owner.get("org"), rid)
        service.audit.record_many([actor.record("legal.calendar_feed.read", None, "ok", {"items": len(items)})])
    body = ical.calendar(items, now=now, time_zone=service.settings.legal_time_zone)
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer"},
    )
