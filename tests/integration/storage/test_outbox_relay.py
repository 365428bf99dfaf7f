"""The outbox relay end to end on the real server and broker: write, relay, consume, outbox empty."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.events import decode
from shared.events.alerts import AlertRaised, alert_id_for
from shared.events.case import CaseClosed
from shared.kafka import Producer
from shared.outbox import OutboxRelay, entries, push
from shared.settings import CommonSettings
from shared.topics import ALERTS, CASE_EVENTS
from tests.support import consumer, drain, wait_for

pytestmark = pytest.mark.integration


def test_relay_publishes_to_the_prefixed_topic_and_empties_the_outbox(
    db: Any, coll: Any, settings: CommonSettings, stack_env: dict[str, str]
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    raised = AlertRaised(
        case_id=case_id,
        alert_id=alert_id_for(case_id, "legal.no_activity", 1),
        rule="legal.no_activity",
        episode=1,
        severity="high",
        summary="no legal event for 90 days",
        raised_at=now,
    )
    closed = CaseClosed(case_id=case_id, status="Closed", closed_at=now)
    alert_entries = entries(ALERTS, raised)
    case_entries = entries(CASE_EVENTS, closed)
    # the change and its events in one single-document update
    coll.update_one(
        {"_id": case_id},
        {"$set": {"status": "Closed", "version": 2}, "$push": push(alert_entries + case_entries)},
        upsert=True,
    )
    leases = db[f"leases_{uuid.uuid4().hex[:8]}"]
    producer = Producer(settings, client_id="storage-outbox-test")
    relay = OutboxRelay(producer, [coll], leases, "storagetest")
    try:
        assert relay._acquire_lease()
        with consumer(stack_env, ALERTS, CASE_EVENTS) as c:
            assert relay.run_once() == 2

            wanted = {e["id"] for e in alert_entries + case_entries}
            records = drain(c, lambda rs: wanted <= {decode(r.value).id for r in rs if r.key == case_id.encode()})
        mine = [r for r in records if r.key == case_id.encode()]
        by_id = {decode(r.value).id: r for r in mine}
        assert by_id[alert_entries[0]["id"]].topic == settings.topic(ALERTS)
        assert by_id[case_entries[0]["id"]].topic == settings.topic(CASE_EVENTS)
        assert decode(by_id[alert_entries[0]["id"]].value).payload == raised
        assert decode(by_id[case_entries[0]["id"]].value).payload == closed

        doc = coll.find_one({"_id": case_id})
        assert doc["outbox"] == [] and doc["status"] == "Closed"
        assert relay.run_once() == 0

        # the background loop picks up a later write on notify()
        (later,) = entries(CASE_EVENTS, CaseClosed(case_id=case_id, status="ClosedReferred", closed_at=now))
        with consumer(stack_env, CASE_EVENTS) as c:
            relay.start()
            coll.update_one({"_id": case_id}, {"$push": push([later])})
            relay.notify()
            drain(c, lambda rs: any(decode(r.value).id == later["id"] for r in rs if r.key == case_id.encode()))
        wait_for(lambda: coll.find_one({"_id": case_id})["outbox"] == [], 20, what="outbox emptied")
    finally:
        relay.stop()
        producer.close()
