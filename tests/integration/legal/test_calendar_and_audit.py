"""Issue 12 item 6 and issue 11 item 3 (legal): the calendar, the secret iCalendar feed, and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.legal.conftest import new_id, post, readable_timeline, register_case, scheduled, timeline, update
from tests.support import wait_for
from tests.unit.legal.icsparse import parse

pytestmark = pytest.mark.integration


def iso(at: datetime) -> str:
    return at.isoformat()


def get(legal, path: str, headers: dict | None = None, **params) -> httpx.Response:
    return httpx.get(legal.url + path, headers=headers or {}, params=params, timeout=30)


def test_calendar_and_feed_show_my_hearings_and_deadlines_only(legal, tokens, producer):
    org = new_id("org")
    mine, theirs = new_id("c"), new_id("c")
    register_case(producer, mine, org, "adv-cal")
    register_case(producer, theirs, org, "adv-cal-2")
    advocate = tokens("legal_advocate", sub="adv-cal", org=org)
    other = tokens("legal_advocate", sub="adv-cal-2", org=org)
    supervisor = tokens("supervisor", sub="sup-cal", org=org)
    readable_timeline(legal, mine, advocate)
    readable_timeline(legal, theirs, other)
    now = datetime.now(UTC)
    h = tokens.integrator()
    body = {
        "updates": [
            update(mine, "stage_changed", iso(now - timedelta(days=10)), stage="preliminary_investigation"),
            scheduled(mine, iso(now - timedelta(days=9)), "h-cal", iso(now + timedelta(days=3))),
            update(theirs, "stage_changed", iso(now - timedelta(days=3)), stage="trial", imported=True),
            scheduled(theirs, iso(now - timedelta(days=1)), "h-theirs", iso(now + timedelta(days=5))),
        ]
    }
    assert post(legal, h, body).json()["accepted"] == 4

    page = get(legal, "/v1/calendar", advocate).json()
    kinds = [(i["case_id"], i["kind"]) for i in page["items"]]
    assert page["scope"] == "advocate" and (mine, "hearing") in kinds and (mine, "stage_deadline") in kinds
    assert all(case_id == mine for case_id, _ in kinds)  # never another advocate's case
    org_page = get(legal, "/v1/calendar", supervisor).json()
    assert org_page["scope"] == "organisation"
    assert (theirs, "hearing") in [(i["case_id"], i["kind"]) for i in org_page["items"]]
    assert get(legal, "/v1/calendar", tokens("service_provider", org=org)).status_code == 403
    assert (
        get(legal, "/v1/calendar", advocate, **{"from": iso(now), "to": iso(now - timedelta(days=1))}).status_code
        == 422
    )

    # the secret feed: created, served without a token, valid iCalendar, rotated, revoked
    created = httpx.post(legal.url + "/v1/calendar/feed", headers=advocate, timeout=30)
    assert created.status_code == 201
    url = created.json()["url"]
    assert url.startswith(legal.url + "/v1/calendar/feed/") and url.endswith(".ics")
    feed = httpx.get(url, timeout=30)
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = parse(feed.text)
    assert {e["CATEGORIES"] for e in events} == {"hearing", "stage_deadline"}
    assert all(e["SUMMARY"].startswith(f"{mine} · ") for e in events)
    rotated = httpx.post(legal.url + "/v1/calendar/feed", headers=advocate, timeout=30).json()["url"]
    assert httpx.get(url, timeout=30).status_code == 404 and httpx.get(rotated, timeout=30).status_code == 200
    assert httpx.delete(legal.url + "/v1/calendar/feed", headers=advocate, timeout=30).status_code == 204
    assert httpx.get(rotated, timeout=30).status_code == 404
    assert httpx.get(legal.url + "/v1/calendar/feed/not-a-secret.ics", timeout=30).status_code == 404
    assert httpx.post(legal.url + "/v1/calendar/feed", timeout=30).status_code == 401


def test_every_timeline_read_and_recorded_update_is_audited(legal, tokens, producer):
    org = new_id("org")
    case_id, foreign = new_id("c"), new_id("c")
    register_case(producer, case_id, org, "adv-aud")
    register_case(producer, foreign, new_id("org"), "adv-elsewhere")
    advocate = tokens("legal_advocate", sub="adv-aud", org=org)
    admin = tokens("admin", sub="admin-aud")
    readable_timeline(legal, case_id, advocate)
    wait_for(
        lambda: timeline(legal, foreign, tokens("legal_advocate", sub="adv-elsewhere")).status_code == 200 or None,
        timeout=60,
        what="access to the foreign case",
    )

    def traced(rid: str, call) -> None:
        call({"X-Request-Id": rid})

    rids = {name: new_id(name) for name in ("ok", "scope", "missing", "role", "write")}
    traced(rids["ok"], lambda h: timeline(legal, case_id, {**advocate, **h}))
    traced(rids["scope"], lambda h: timeline(legal, foreign, {**advocate, **h}))
    unknown = new_id("c")
    traced(rids["missing"], lambda h: timeline(legal, unknown, {**advocate, **h}))
    traced(rids["role"], lambda h: timeline(legal, case_id, {**tokens("service_provider", org=org), **h}))
    person = update(case_id, "victim_notified", iso(datetime.now(UTC)), about="hearing")
    del person["source_system"]
    traced(rids["write"], lambda h: post(legal, {**advocate, **h}, person))

    def audit_of(rid: str) -> list[dict]:
        r = get(legal, "/v1/audit", admin, request_id=rid)
        assert r.status_code == 200, r.text
        return r.json()["items"]

    expectations = {
        "ok": ("legal.timeline.read", case_id, "ok", None),
        "scope": ("legal.timeline.read", foreign, "denied", "out_of_scope"),
        "missing": ("legal.timeline.read", unknown, "not_found", "case_not_found"),
        "role": ("legal.timeline.read", case_id, "denied", "role"),
        "write": ("legal.court_update.record", case_id, "ok", None),
    }
    for name, (action, case, outcome, why) in expectations.items():
        (record,) = audit_of(rids[name])
        assert (record["action"], record["case_id"], record["outcome"]) == (action, case, outcome), name
        assert record["details"].get("why") == why and record["request_id"] == rids[name]
        assert record["actor"] in ("adv-aud", "someone") and record["role"] in ("legal_advocate", "service_provider")
    assert audit_of(rids["write"])[0]["details"]["status"] == "accepted"
    by_case = get(legal, "/v1/audit", admin, case_id=case_id).json()
    assert by_case["total"] >= 3 and all(i["case_id"] == case_id for i in by_case["items"])
    assert get(legal, "/v1/audit", advocate).status_code == 403
