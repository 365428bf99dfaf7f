"""The idle pollers' "when is the next thing due?" reads are served by an index on the real server, and
answer the earliest time: the escalation loop's schedule (services.alerts.service.escalation) and the
delivery worker's next job (services.alerts.service.delivery). Each is one indexed lookup, sorted on the
indexed time, limit 1 - what an idle alerts service asks the database instead of polling every second.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.service.delivery import next_job_due, next_lease_end_query, next_pending_query
from services.alerts.service.escalation import (
    EscalationSchedule,
    next_escalation_query,
    next_snooze_end_query,
    oldest_unqueued_query,
)
from services.alerts.settings import AlertsSettings
from services.alerts.store.documents import AlertDoc, NotifyJobDoc, ensure_indexes
from shared.explain import assert_indexed, explain_filter, explain_find_and_modify
from shared.mongo import connect

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
LATER = NOW + timedelta(minutes=5)


@pytest.fixture(scope="module")
def colls(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    settings = AlertsSettings(mongo_uri=stack_env["CENTINELA_MONGO_URI"], mongo_db=db_name("poller_plans"))
    client = connect(settings)
    ensure_indexes()
    alerts, jobs = AlertDoc._get_collection(), NotifyJobDoc._get_collection()
    # many alerts at other levels, severities and states, so a scan would have something to read
    alerts.insert_many(
        [
            {"_id": f"bg_{i}", "status": ["open", "acknowledged", "resolved"][i % 3], "severity": "high",
             "escalation_level": i % 2, "raised_at": NOW - timedelta(minutes=i)}
            for i in range(60)
        ]
    )  # fmt: skip
    alerts.insert_many(
        [
            {"_id": "crit_new", "status": "open", "severity": "critical", "escalation_level": 0, "raised_at": NOW},
            {"_id": "crit_old", "status": "open", "severity": "critical", "escalation_level": 0,
             "raised_at": NOW - timedelta(minutes=3)},
            {"_id": "crit_l1", "status": "open", "severity": "critical", "escalation_level": 1,
             "raised_at": NOW - timedelta(minutes=30)},
            {"_id": "snz_late", "status": "snoozed", "severity": "critical", "escalation_level": 0,
             "raised_at": NOW, "snoozed_until": NOW + timedelta(minutes=4)},
            {"_id": "snz_soon", "status": "snoozed", "severity": "critical", "escalation_level": 0,
             "raised_at": NOW, "snoozed_until": NOW + timedelta(minutes=1)},
            {"_id": "left", "status": "open", "severity": "low", "escalation_level": 0, "raised_at": NOW,
             "notify": [{"event_id": "e"}], "notify_since": NOW - timedelta(seconds=10)},
        ]
    )  # fmt: skip
    jobs.insert_many(
        [{"_id": f"done_{i}", "status": "done", "next_attempt_at": NOW - timedelta(minutes=i)} for i in range(40)]
        + [
            {"_id": "retry_late", "status": "pending", "next_attempt_at": NOW + timedelta(seconds=90)},
            {"_id": "retry_soon", "status": "pending", "next_attempt_at": NOW + timedelta(seconds=20)},
            {"_id": "sender_died", "status": "sending", "lease_until": NOW + timedelta(seconds=45)},
        ]
    )
    yield {"alerts": alerts, "jobs": jobs}
    client.close()


SCHEDULE_SHAPES: list[tuple[str, str, dict[str, Any], str]] = [
    ("next escalation (severity, level)", "alerts", next_escalation_query("critical", 0, LATER), "raised_at"),
    ("next snooze end", "alerts", next_snooze_end_query(LATER), "snoozed_until"),
    ("oldest notification a crash left", "alerts", oldest_unqueued_query(LATER), "notify_since"),
    ("next pending job", "jobs", next_pending_query(LATER), "next_attempt_at"),
    ("next end of a sender's lease", "jobs", next_lease_end_query(LATER), "lease_until"),
]


@pytest.mark.parametrize(("what", "coll", "query", "field"), SCHEDULE_SHAPES, ids=[s[0] for s in SCHEDULE_SHAPES])
def test_schedule_reads_use_an_index(
    colls: dict[str, Any], what: str, coll: str, query: dict[str, Any], field: str
) -> None:
    plan = assert_indexed(explain_filter(colls[coll], query, projection={field: 1}, sort={field: 1}, limit=1), what)
    assert plan.docs_examined is None or plan.docs_examined <= 3  # the matching few, never the collection


def test_the_schedule_reads_the_earliest_times(colls: dict[str, Any]) -> None:
    schedule = EscalationSchedule(colls["alerts"])
    assert schedule.oldest_open("critical", 0, LATER) == NOW - timedelta(minutes=3)
    assert schedule.oldest_open("critical", 1, LATER) == NOW - timedelta(minutes=30)
    assert schedule.oldest_open("critical", 0, NOW - timedelta(minutes=4)) is None  # nothing raised that early
    assert schedule.oldest_open("medium", 0, LATER) is None
    assert schedule.next_snooze_end(LATER) == NOW + timedelta(minutes=1)
    assert schedule.next_snooze_end(NOW) is None
    assert schedule.oldest_unqueued(LATER) == NOW - timedelta(seconds=10)


def test_the_delivery_worker_reads_when_the_next_job_is_due(colls: dict[str, Any]) -> None:
    assert next_job_due(colls["jobs"], LATER) == NOW + timedelta(seconds=20)
    assert next_job_due(colls["jobs"], NOW + timedelta(seconds=10)) is None
    colls["jobs"].update_one({"_id": "sender_died"}, {"$set": {"lease_until": NOW + timedelta(seconds=5)}})
    assert next_job_due(colls["jobs"], LATER) == NOW + timedelta(seconds=5)


def test_reports_materialiser_probe_and_lease_use_an_index(mongo: Any, db_name: Callable[[str], str]) -> None:
    from services.reports.service.projector import DIRTY_PROBE
    from services.reports.store.readmodel import Lease
    from services.reports.store.readmodel import ensure_indexes as reports_indexes

    db = mongo[db_name("poller_plans_reports")]
    reports_indexes(db)
    db.case_facts.insert_many([{"_id": f"c{i}", "v": 1, "dirty": i < 2} for i in range(50)])
    db.leases.insert_many([{"_id": f"other{i}", "holder": "x", "until": NOW} for i in range(20)])
    lease = Lease(db, "materialiser", "me", 15.0)
    assert lease.acquire() and lease.acquire()  # taken (upsert), then renewed
    assert not Lease(db, "materialiser", "someone else", 15.0).acquire()
    assert_indexed(explain_filter(db.case_facts, DIRTY_PROBE, projection={"_id": 1}, limit=1), "dirty probe")
    update = {"$set": {"holder": "me", "until": LATER}}
    assert_indexed(explain_find_and_modify(db.leases, lease.renew_filter(), update), "reports lease renewal")
    takeover = lease.takeover_filter(NOW)
    assert_indexed(explain_find_and_modify(db.leases, takeover, update, upsert=True), "reports lease takeover")
