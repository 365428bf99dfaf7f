"""Outbox entries/push shapes and OutboxRelay.run_once (mongomock + a fake producer; unit level)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import mongomock
import pytest

from shared.events import decode, new_event
from shared.events.case import CaseClosed, RiskFlagged
from shared.outbox import OutboxRelay, entries, push
from shared.topics import ALERTS, CASE_EVENTS
from tests.support import Counting

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def closed(case_id: str) -> CaseClosed:
    return CaseClosed(case_id=case_id, status="Closed", closed_at=NOW)


def flagged(case_id: str) -> RiskFlagged:
    return RiskFlagged(case_id=case_id, flag_id="f1", kind="threat_received", severity="high", raised_at=NOW)


class FakeFuture:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> None:
        if self.error:
            raise self.error


@dataclass
class FakeProducer:
    sent: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    fail: Exception | None = None

    def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> FakeFuture:
        self.sent.append((topic, key or b"", value))
        return FakeFuture(self.fail)


@pytest.fixture
def db() -> Any:
    return mongomock.MongoClient(tz_aware=True)["outbox_unit"]


def relay(db: Any, producer: FakeProducer, service: str = "unitsvc") -> OutboxRelay:
    return OutboxRelay(producer, [db.cases], db.leases, service)  # type: ignore[arg-type]


def test_entries_shape() -> None:
    envelope = new_event(closed("c1"), event_id="ev-1")
    out = entries(CASE_EVENTS, envelope, flagged("c1"))
    assert [set(e) for e in out] == [{"id", "topic", "key", "value", "created_at"}] * 2
    first, second = out
    assert (first["id"], first["topic"], first["key"]) == ("ev-1", CASE_EVENTS, "c1")
    assert decode(first["value"]).payload == closed("c1")
    assert isinstance(second["value"], str) and decode(second["value"]).payload == flagged("c1")
    assert second["id"] == json.loads(second["value"])["id"]  # an EventPayload gets a fresh envelope
    assert first["created_at"].tzinfo is not None


def test_push_clause() -> None:
    out = entries(CASE_EVENTS, closed("c1"))
    assert push(out) == {"outbox": {"$each": out}}


def test_run_once_publishes_then_pulls(db: Any) -> None:
    ev1, ev2 = entries(CASE_EVENTS, closed("c1"), flagged("c1"))
    db.cases.update_one({"_id": "c1"}, {"$set": {"status": "Closed"}, "$push": push([ev1, ev2])}, upsert=True)
    (ev3,) = entries(ALERTS, flagged("c2"))
    db.cases.insert_one({"_id": "c2", "outbox": [ev3]})
    db.cases.insert_one({"_id": "c3", "outbox": []})
    producer = FakeProducer()

    assert relay(db, producer).run_once() == 3

    assert sorted(producer.sent) == sorted(
        [
            (CASE_EVENTS, b"c1", ev1["value"].encode()),
            (CASE_EVENTS, b"c1", ev2["value"].encode()),
            (ALERTS, b"c2", ev3["value"].encode()),
        ]
    )
    # one case's events in the order they were written
    assert [v for t, k, v in producer.sent if k == b"c1"] == [ev1["value"].encode(), ev2["value"].encode()]
    assert all(doc["outbox"] == [] for doc in db.cases.find())
    assert db.cases.find_one({"_id": "c1"})["status"] == "Closed"
    assert relay(db, producer).run_once() == 0
    assert len(producer.sent) == 3


def test_failed_publish_keeps_the_entries(db: Any) -> None:
    (ev,) = entries(CASE_EVENTS, closed("c9"))
    db.cases.insert_one({"_id": "c9", "outbox": [ev]})
    producer = FakeProducer(fail=TimeoutError("broker down"))
    with pytest.raises(TimeoutError):
        relay(db, producer).run_once()
    assert [e["id"] for e in db.cases.find_one({"_id": "c9"})["outbox"]] == [ev["id"]]
    producer.fail = None
    assert relay(db, producer).run_once() == 1
    assert db.cases.find_one({"_id": "c9"})["outbox"] == []


def test_entries_appended_meanwhile_are_not_pulled(db: Any) -> None:
    """$pull removes only the ids that were published, never an entry pushed during the publish."""
    (ev1,) = entries(CASE_EVENTS, closed("c5"))
    (ev2,) = entries(CASE_EVENTS, flagged("c5"))
    db.cases.insert_one({"_id": "c5", "outbox": [ev1]})

    class PushingProducer(FakeProducer):
        def send_raw(self, topic: str, key: bytes | None, value: bytes, headers: Any = None) -> FakeFuture:
            db.cases.update_one({"_id": "c5"}, {"$push": push([ev2])})
            return super().send_raw(topic, key, value, headers)

    assert relay(db, PushingProducer()).run_once() == 1
    assert [e["id"] for e in db.cases.find_one({"_id": "c5"})["outbox"]] == [ev2["id"]]


def test_one_relay_holds_the_lease(db: Any) -> None:
    first, second = relay(db, FakeProducer()), relay(db, FakeProducer())
    assert first._acquire_lease()
    assert not second._acquire_lease()
    assert first._acquire_lease()  # renewal by the owner
    first.stop()  # releases the lease
    assert second._acquire_lease()


def test_expired_lease_is_taken_over(db: Any) -> None:
    first, second = relay(db, FakeProducer()), relay(db, FakeProducer())
    assert first._acquire_lease()
    db.leases.update_one({"_id": "unitsvc"}, {"$set": {"until": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert second._acquire_lease()
    assert db.leases.find_one({"_id": "unitsvc"})["owner"] == second.owner
    assert not first._acquire_lease()


def test_relay_creates_the_poll_and_lease_indexes(db: Any) -> None:
    relay(db, FakeProducer()).run_once()
    cases = db.cases.index_information()
    assert cases["outbox_pending"]["key"] == [("outbox.created_at", 1)]
    assert cases["outbox_pending"].get("sparse") is True
    assert {"lease_owner", "lease_until"} <= set(db.leases.index_information())


def test_idle_relay_backs_off_and_a_write_wakes_it(db: Any) -> None:
    r = OutboxRelay(FakeProducer(), [db.cases], db.leases, "unitsvc", poll_interval=0.5, idle_poll_interval=2.0)  # type: ignore[arg-type]
    delays = [r.step() for _ in range(5)]
    assert delays == [0.5, 1.0, 2.0, 2.0, 2.0]
    r.notify()
    assert r.step() == 0.5
    db.cases.insert_one({"_id": "c1", "outbox": entries(CASE_EVENTS, closed("c1"))})
    assert r.step() == 0.5  # published something: stay at the short interval
    assert r.step() == 0.5 and r.step() == 1.0


def test_the_idle_backoff_is_free_of_the_lease_length(db: Any) -> None:
    r = OutboxRelay(FakeProducer(), [db.cases], db.leases, "unitsvc", lease_seconds=4.0, idle_poll_interval=30.0)  # type: ignore[arg-type]
    assert r.idle_poll_interval == 30.0
    assert OutboxRelay(FakeProducer(), [db.cases], db.leases, "u").idle_poll_interval == 10.0  # type: ignore[arg-type]


def test_an_idle_relay_costs_one_probe_per_pass_and_no_lease(db: Any) -> None:
    cases, leases = Counting(db.cases), Counting(db.leases)
    r = OutboxRelay(FakeProducer(), [cases], leases, "unitsvc", poll_interval=0.5, idle_poll_interval=8.0)  # type: ignore[arg-type,list-item]
    r.ensure_indexes()
    cases.calls.clear()
    leases.calls.clear()
    assert [r.step() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert cases.calls == ["find_one"] * 6  # has_pending: limit 1 on the sparse index
    assert leases.calls == []
    assert db.leases.count_documents({}) == 0


def test_a_notified_pass_publishes_without_probing(db: Any) -> None:
    cases = Counting(db.cases)
    producer = FakeProducer()
    r = OutboxRelay(producer, [cases], db.leases, "unitsvc")  # type: ignore[arg-type,list-item]
    r.ensure_indexes()
    db.cases.insert_one({"_id": "c1", "outbox": entries(CASE_EVENTS, closed("c1"))})
    cases.calls.clear()
    r.notify()
    assert r.step() == 0.5
    assert "find_one" not in cases.calls and len(producer.sent) == 1


def test_the_relay_gives_its_lease_back_when_idle_so_a_sibling_publishes_at_once(db: Any) -> None:
    first, second = FakeProducer(), FakeProducer()
    r1, r2 = relay(db, first), relay(db, second)
    db.cases.insert_one({"_id": "c1", "outbox": entries(CASE_EVENTS, closed("c1"))})
    r1.step()
    assert len(first.sent) == 1 and db.leases.find_one({"_id": "unitsvc"})["owner"] == r1.owner
    r1.step()  # nothing pending any more: the lease goes
    assert db.leases.count_documents({}) == 0
    db.cases.insert_one({"_id": "c2", "outbox": entries(CASE_EVENTS, closed("c2"))})
    r2.notify()
    r2.step()
    assert [k for _, k, _ in second.sent] == [b"c2"]


def test_pending_under_another_relays_lease_is_looked_at_again_soon_and_taken_over_when_it_expires(db: Any) -> None:
    producer = FakeProducer()
    holder, waiting = relay(db, FakeProducer()), relay(db, producer)
    assert holder._acquire_lease()
    db.cases.insert_one({"_id": "c1", "outbox": entries(CASE_EVENTS, closed("c1"))})
    assert [waiting.step() for _ in range(3)] == [0.5, 0.5, 0.5]  # no idle backoff while something waits
    assert producer.sent == []
    db.leases.update_one({"_id": "unitsvc"}, {"$set": {"until": datetime(2000, 1, 1, tzinfo=UTC)}})  # holder died
    waiting.step()
    assert [k for _, k, _ in producer.sent] == [b"c1"]


def test_one_pass_publishes_a_backlog_in_chunks_up_to_its_limit(db: Any) -> None:
    db.cases.insert_many([{"_id": f"c{i:03}", "outbox": entries(CASE_EVENTS, closed(f"c{i:03}"))} for i in range(25)])
    db.cases.insert_many([{"_id": f"done{i}", "outbox": []} for i in range(5)])
    producer = FakeProducer()
    r = OutboxRelay(producer, [db.cases], db.leases, "unitsvc", batch=4, max_docs_per_pass=10)  # type: ignore[arg-type]
    assert r.run_once() == 10
    assert r._more and r.backlog._value.get() == 15
    assert r.run_once() == 10 and r.run_once() == 5
    assert not r._more
    assert r.run_once() == 0
    assert sorted(k for _, k, _ in producer.sent) == sorted(f"c{i:03}".encode() for i in range(25))
    assert db.cases.count_documents({"outbox.0": {"$exists": True}}) == 0
