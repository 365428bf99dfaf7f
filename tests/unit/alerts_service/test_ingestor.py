"""The consumer's idempotency and notification fan-out, on mongomock (no network)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mongomock
import pytest
import yaml

from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.ingest import AlertIngestor
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository
from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.events import CloudEvent, Event, EventPayload, decode, encode, new_event
from shared.events.alerts import AlertEscalated, AlertRaised, AlertResolved
from shared.kafka import InvalidMessage
from tests.support import alert_raised


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    doc["escalation"] = {"critical": "10min", "high": "30min"}
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(doc))
    db: Any = mongomock.MongoClient(tz_aware=True)["t"]
    changes: list[tuple[str, str]] = []
    ing = AlertIngestor(
        AlertsSettings(),
        AlertRepository(db["alerts"]),
        DirectoryRepository(db["directory"]),
        SubscriptionRepository(db["subscriptions"]),
        JobRepository(db["jobs"]),
        EscalationPolicy(policy),
        on_change=lambda c, d: changes.append((c, d["_id"])),
        on_jobs=lambda: None,
    )
    db["directory"].insert_many(
        [
            {"_id": "adv-1", "email": "adv1@x.test", "org_id": "org-1", "role": "legal_advocate"},
            {"_id": "sup-1", "email": "sup1@x.test", "org_id": "org-1", "role": "supervisor"},
            {"_id": "sup-2", "email": "sup2@x.test", "org_id": "org-1", "role": "supervisor"},
        ]
    )
    db["subscriptions"].insert_one({"_id": "sub_1", "url": "http://r.test", "secret": "s" * 16, "rules": []})
    return {"db": db, "ing": ing, "changes": changes}


def raised() -> AlertRaised:
    return alert_raised(org="org-1", advocate="adv-1", case_id="case-1", summary="session overdue")


def feed(ing: AlertIngestor, payload: Any, event_id: str | None = None) -> None:
    ing.apply(decode(encode(new_event(payload, event_id=event_id))))


def test_duplicates_make_one_alert_one_email_one_webhook(world: dict[str, Any]) -> None:
    ing, db = world["ing"], world["db"]
    feed(ing, raised(), "e1")
    feed(ing, raised(), "e1")
    feed(ing, raised(), "e2")
    assert db["alerts"].count_documents({}) == 1
    jobs = {j["_id"]: j for j in db["jobs"].find()}
    assert sorted(j["channel"] for j in jobs.values()) == ["email", "webhook"]
    email = next(j for j in jobs.values() if j["channel"] == "email")
    assert email["payload"]["to"] == "adv1@x.test"
    assert world["changes"] == [("raised", raised().alert_id)]


def test_escalation_mails_each_supervisor_once_per_level(world: dict[str, Any]) -> None:
    ing, db = world["ing"], world["db"]
    feed(ing, raised())
    p = raised()
    for level in (1, 1, 2):
        feed(ing, AlertEscalated(case_id=p.case_id, alert_id=p.alert_id, rule=p.rule, episode=1, level=level,
                                 escalated_at=datetime.now(UTC)))  # fmt: skip
    to = sorted(
        (j["payload"]["to"], "nivel 2" in j["payload"]["subject"]) for j in db["jobs"].find({"channel": "email"})
    )
    assert to == [("adv1@x.test", False), ("sup1@x.test", False), ("sup1@x.test", True), ("sup2@x.test", False),
                  ("sup2@x.test", True)]  # fmt: skip
    # the text states the time in force (high: 30min): level 2 = twice that
    level2 = next(j for j in db["jobs"].find({"channel": "email"}) if "nivel 2" in j["payload"]["subject"])
    assert "atendida en 1 hora." in level2["payload"]["body"]  # Spanish, the default language
    assert db["alerts"].find_one()["escalation_level"] == 2


def test_auto_resolve_once(world: dict[str, Any]) -> None:
    ing, db = world["ing"], world["db"]
    feed(ing, raised())
    p = raised()
    resolved = AlertResolved(case_id=p.case_id, alert_id=p.alert_id, rule=p.rule, episode=1, auto=True,
                             reason="session recorded", resolved_at=datetime.now(UTC))  # fmt: skip
    feed(ing, resolved)
    feed(ing, resolved)
    doc = db["alerts"].find_one()
    assert (
        doc["status"] == "resolved" and doc["resolved_auto"] is True and doc["resolution_reason"] == "session recorded"
    )
    assert world["changes"].count(("resolved", p.alert_id)) == 1


def test_foreign_event_types_are_refused(world: dict[str, Any]) -> None:
    envelope = CloudEvent(
        id="e9", source="/centinela/intake", type="centinela.case.closed", subject="case-1",
        time=datetime.now(UTC), dataschemaversion=1, data={"case_id": "case-1"},
    )  # fmt: skip
    with pytest.raises(InvalidMessage):
        world["ing"].apply(Event(envelope=envelope, payload=EventPayload(case_id="case-1")))
    assert world["db"]["alerts"].count_documents({}) == 0
