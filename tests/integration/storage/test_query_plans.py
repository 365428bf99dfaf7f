"""Every query shape of the outbox relay and its lease is served by an index on the real server.

Runs ``explain`` (shared.explain) against the server under test — SecantusDB locally, MongoDB in
production and CI with docker — on collections big enough that a scan would show, and fails on a
collection scan. Write filters are explained as finds (see shared.explain for why).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared import outbox
from shared.events.case import CaseClosed
from shared.explain import assert_indexed, explain_aggregate, explain_filter, explain_find_and_modify
from shared.outbox import OutboxRelay

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
SETTLED = 300  # documents whose outbox was published long ago
PENDING = 7


class NoProducer:
    def send_raw(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not publishing in this test")


@pytest.fixture
def cases(db: Any, coll: Any) -> Any:
    coll.insert_many([{"_id": f"old_{i}", "v": 1, "outbox": []} for i in range(SETTLED)])
    for i in range(PENDING):
        coll.insert_one(
            {
                "_id": f"new_{i}",
                "outbox": outbox.entries("case-events", CaseClosed(case_id=f"new_{i}", status="Closed", closed_at=NOW)),
            }
        )
    return coll


@pytest.fixture
def relay(cases: Any, db: Any) -> Iterator[OutboxRelay]:
    leases = db[f"{cases.name}_leases"]
    r = OutboxRelay(NoProducer(), [cases], leases, "plans")  # type: ignore[arg-type]
    r.ensure_indexes()
    yield r
    leases.drop()


def test_outbox_poll_uses_the_sparse_index(relay: OutboxRelay, cases: Any) -> None:
    plan = assert_indexed(
        explain_filter(cases, outbox.PENDING_FILTER, projection=outbox.PENDING_PROJECTION, limit=5000),
        "outbox poll",
    )
    assert outbox.PENDING_INDEX in plan.indexes
    # only the pending documents are read, not the settled ones
    assert plan.docs_examined is None or plan.docs_examined <= PENDING
    assert plan.returned in (None, PENDING)


def test_idle_probe_uses_the_sparse_index(relay: OutboxRelay, cases: Any) -> None:
    plan = assert_indexed(
        explain_filter(cases, outbox.PENDING_FILTER, projection=outbox.PROBE_PROJECTION, limit=1), "outbox idle probe"
    )
    assert outbox.PENDING_INDEX in plan.indexes
    assert plan.docs_examined is None or plan.docs_examined <= PENDING
    assert outbox.has_pending(cases)
    cases.update_many({}, {"$unset": {"outbox": ""}})
    assert not outbox.has_pending(cases)


def test_outbox_backlog_count_uses_the_index(relay: OutboxRelay, cases: Any) -> None:
    pipeline = [{"$match": outbox.PENDING_FILTER}, {"$group": {"_id": None, "n": {"$sum": {"$size": "$outbox"}}}}]
    assert_indexed(explain_aggregate(cases, pipeline), "outbox backlog count")


def test_outbox_pull_uses_the_id_index(relay: OutboxRelay, cases: Any) -> None:
    assert_indexed(explain_filter(cases, {"_id": {"$in": ["new_1", "new_2"]}}), "outbox $pullAll by _id $in")


def test_lease_shapes_use_an_index(relay: OutboxRelay) -> None:
    leases = relay.leases
    assert relay._acquire_lease()
    update = {"$set": {"owner": relay.owner, "until": NOW + timedelta(seconds=10)}}
    renew = outbox.lease_renew_filter("plans", relay.owner)
    takeover = outbox.lease_takeover_filter("plans", NOW)
    # a few other services' leases, so a scan would have something to read
    leases.insert_many([{"_id": f"svc{i}", "owner": "x", "until": NOW} for i in range(20)])
    assert_indexed(explain_find_and_modify(leases, renew, update), "lease renewal")
    assert_indexed(explain_find_and_modify(leases, takeover, update, upsert=True), "lease takeover")
    assert_indexed(explain_filter(leases, renew), "lease release (delete_one)")


def test_relay_pass_publishes_nothing_twice_and_reads_only_pending(relay: OutboxRelay, cases: Any) -> None:
    """The explained shape is the one run_once issues (guards against the two drifting apart)."""
    sent: list[bytes] = []

    class Future:
        def get(self, timeout: float | None = None) -> None:
            return None

    class Producer:
        def send_raw(self, topic: str, key: bytes, value: bytes, headers: Any = None) -> Future:
            sent.append(key)
            return Future()

    relay.producer = Producer()  # type: ignore[assignment]
    assert relay.run_once() == PENDING
    assert sorted(sent) == sorted(f"new_{i}".encode() for i in range(PENDING))
    assert relay.run_once() == 0
    assert cases.count_documents(outbox.PENDING_FILTER) == 0


def test_the_old_poll_shape_was_a_collection_scan(relay: OutboxRelay, cases: Any) -> None:
    """Why the shape changed: no index serves ``outbox.0`` (the helper does see a scan when there is one)."""
    plan = explain_filter(cases, {"outbox.0": {"$exists": True}}, projection={"outbox": 1}, limit=200)
    assert plan.collection_scan
    assert plan.docs_examined is None or plan.docs_examined >= SETTLED
