"""Every query shape the alerts service issues is served by an index (no collection scan), on the
running database server: the cost of a read or a poll follows what it returns, not the data stored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.settings import AlertsSettings
from services.alerts.store.documents import AlertDoc, DeliveryDoc, DirectoryEntryDoc, NotifyJobDoc, ensure_indexes
from shared.explain import assert_indexed, explain_filter, explain_find_and_modify
from shared.mongo import connect

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
NEWEST = {"raised_at": -1, "_id": -1}


@pytest.fixture(scope="module")
def colls(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[dict[str, Any]]:
    settings = AlertsSettings(mongo_uri=stack_env["CENTINELA_MONGO_URI"], mongo_db=db_name("alerts_plans"))
    client = connect(settings)
    ensure_indexes()
    colls = {
        "alerts": AlertDoc._get_collection(),
        "jobs": NotifyJobDoc._get_collection(),
        "directory": DirectoryEntryDoc._get_collection(),
        "deliveries": DeliveryDoc._get_collection(),
    }
    # a few documents, so that a plan is about data and not an empty collection
    colls["alerts"].insert_many(
        [
            {"_id": f"al_{i}", "advocate_id": f"adv-{i % 3}", "org_id": "org-1", "case_id": f"case-{i % 5}",
             "status": "open", "severity": "high", "escalation_level": 0, "raised_at": NOW - timedelta(hours=i)}
            for i in range(30)
        ]
    )  # fmt: skip
    yield colls
    client.close()


WINDOW = {"$gt": NOW - timedelta(hours=2), "$lte": NOW}  # as the inbox asks: $gt a millisecond before the edge
ALERT_SHAPES: list[tuple[str, dict[str, Any], dict[str, int] | None]] = [
    ("inbox window (advocate)", {"advocate_id": "adv-1", "raised_at": WINDOW}, NEWEST),
    ("inbox window (organisation)", {"org_id": "org-1", "raised_at": WINDOW}, NEWEST),
    ("inbox of one case", {"case_id": "case-1"}, None),
    ("alert by id", {"_id": "al_1"}, None),
    ("alerts by ids", {"_id": {"$in": ["al_1", "al_2"]}}, None),
    (
        "due for escalation",
        {"status": "open", "severity": "high", "escalation_level": 0, "raised_at": {"$lte": NOW}},
        None,
    ),
    ("snoozes that are over", {"status": "snoozed", "snoozed_until": {"$lte": NOW}}, None),
    ("notifications a crash left", {"notify_since": {"$lte": NOW}}, None),
    ("unresolved per severity (read, counted here)", {"status": {"$in": ["open", "acknowledged", "snoozed"]}}, None),
    ("inbox total (advocate)", {"advocate_id": "adv-1"}, None),
    ("inbox total (organisation)", {"org_id": "org-1"}, None),
]


@pytest.mark.parametrize(("what", "query", "sort"), ALERT_SHAPES, ids=[s[0] for s in ALERT_SHAPES])
def test_alert_shapes_use_an_index(
    colls: dict[str, Any], what: str, query: dict[str, Any], sort: dict[str, int] | None
) -> None:
    assert_indexed(explain_filter(colls["alerts"], query, sort=sort), what)


def test_delivery_queue_and_logs_use_an_index(colls: dict[str, Any]) -> None:
    for status, field in (("pending", "next_attempt_at"), ("sending", "lease_until")):
        plan = explain_find_and_modify(
            colls["jobs"], {"status": status, field: {"$lte": NOW}}, {"$set": {"status": "sending"}},
            sort={field: 1},
        )  # fmt: skip
        assert_indexed(plan, f"claim a {status} job")
    assert_indexed(explain_filter(colls["directory"], {"org_id": "org-1", "role": "supervisor"}), "supervisors")
    first = {"subscription_id": "sub_1"}
    assert_indexed(explain_filter(colls["deliveries"], first, sort={"at": -1, "_id": -1}), "delivery log")
    after = {"subscription_id": "sub_1", "at": {"$lte": NOW}}
    assert_indexed(explain_filter(colls["deliveries"], after, sort={"at": -1, "_id": -1}), "delivery log page")
