from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.alerts.adapters.live_stream import OVERFLOW, Broadcaster
from services.alerts.domain.messages import escalated_message, matches, raised_message
from services.alerts.domain.visibility import scope_filter, visible
from services.alerts.settings import AlertsSettings
from shared.auth import Principal

ALERT = {
    "_id": "al_1",
    "case_id": "case-9",
    "rule": "service.overdue",
    "severity": "high",
    "org_id": "org-1",
    "advocate_id": "adv-1",
    "summary": "psychosocial session due 2 days ago not recorded",
    "evidence": {"note": "Rosa Quispe"},
    "raised_at": datetime(2025, 1, 1, tzinfo=UTC),
}


def p(*roles: str, sub: str = "u", org: str | None = None) -> Principal:
    return Principal(sub=sub, roles=frozenset(roles), org=org)


def test_scope_filter_per_role() -> None:
    assert scope_filter(p("legal_advocate", sub="adv-1")) == {"advocate_id": "adv-1"}
    assert scope_filter(p("supervisor", org="org-1")) == {"org_id": "org-1"}
    assert scope_filter(p("legal_advocate", "supervisor", sub="a", org="o")) == {
        "$or": [{"advocate_id": "a"}, {"org_id": "o"}]
    }
    assert scope_filter(p("supervisor")) is None
    for role in ("admin", "ops_viewer", "service_provider", "intake_officer", "court_integrator"):
        assert scope_filter(p(role, org="org-1")) is None


def test_visible_matches_scope() -> None:
    assert visible(p("legal_advocate", sub="adv-1"), ALERT)
    assert not visible(p("legal_advocate", sub="adv-2", org="org-1"), ALERT)
    assert visible(p("supervisor", org="org-1"), ALERT)
    assert not visible(p("supervisor", org="org-2"), ALERT)
    assert not visible(p("admin", org="org-1"), ALERT)


def test_emails_carry_ids_and_link_but_no_evidence() -> None:
    s = AlertsSettings(public_base_url="https://c.test/")
    msg = raised_message(s, ALERT, "en")
    assert "case-9" in msg["subject"] and "A support service session is overdue" in msg["subject"]
    assert "https://c.test/v1/alerts/al_1" in msg["body"]
    assert "Rosa" not in msg["body"] and "Quispe" not in msg["subject"]
    esc = escalated_message(s, ALERT, 2, timedelta(hours=1), "en")
    assert "level 2" in esc["subject"] and "2 hours" in esc["body"] and "Rosa" not in esc["body"]


def test_subscription_filter() -> None:
    assert matches({}, ALERT)
    assert matches({"rules": ["service.overdue"], "severities": ["high"], "org_id": "org-1"}, ALERT)
    assert not matches({"rules": ["legal.no_activity"]}, ALERT)
    assert not matches({"severities": ["critical"]}, ALERT)
    assert not matches({"org_id": "org-2"}, ALERT)


async def test_broadcaster_fans_out_by_visibility_and_overflows() -> None:
    b = Broadcaster()
    loop = asyncio.get_running_loop()
    mine = b.subscribe(loop, lambda a: visible(p("legal_advocate", sub="adv-1"), a))
    other = b.subscribe(loop, lambda a: visible(p("legal_advocate", sub="adv-2"), a))
    b.publish("raised", ALERT)
    item = await asyncio.wait_for(mine.queue.get(), 2)
    assert item == {"change": "raised", "alert": ALERT}
    assert other.queue.empty()
    for _ in range(1001):
        b.publish("raised", ALERT)
    await asyncio.sleep(0)  # let the scheduled offers run
    items = [mine.queue.get_nowait() for _ in range(mine.queue.qsize())]
    assert items[-1] is OVERFLOW and mine.overflowed
    b.unsubscribe(mine)
    b.unsubscribe(other)
    assert len(b) == 0
