"""Every query shape the legal store issues is served by an index on the real server (issue 16 item 1).

``explain`` (shared.explain) against the server under test — SecantusDB here, MongoDB in production —
on collections big enough that a scan would show; a collection scan fails the test. Write filters are
explained as finds (shared.explain says why). The shapes are taken from the store's own code paths
where it builds them, so a new shape there without an index shows up here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.legal.domain.deadlines import load_policy
from services.legal.service import LegalService
from services.legal.settings import DEFAULT_DEADLINES_FILE, LegalSettings
from services.legal.store.audit import AuditLog, AuditQuery
from services.legal.store.feeds import CalendarFeed, FeedRepository
from services.legal.store.timelines import (
    TIMELINE_SEQ_INDEX,
    CaseAccess,
    CaseTimeline,
    LegalUpdate,
    TimelineRepository,
    slot_id,
)
from shared import outbox
from shared.explain import assert_indexed, explain_aggregate, explain_filter
from shared.mongo import connect

pytestmark = pytest.mark.integration

CASES = 120
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def service(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[LegalService]:
    settings = LegalSettings(
        mongo_uri=stack_env["CENTINELA_MONGO_URI"], mongo_db=db_name("legal_plans"), outbox_enabled=False
    )
    client = connect(settings)
    for document in (LegalUpdate, CaseTimeline, CaseAccess, CalendarFeed):
        document._collection = None  # type: ignore[attr-defined]  # not a collection of an earlier connection
    repo = TimelineRepository()
    repo.ensure_indexes()
    audit = AuditLog(client[settings.database]["audit"])
    audit.ensure_indexes()
    feeds = FeedRepository()
    feeds.ensure_indexes()
    svc = LegalService(settings, repo, load_policy(DEFAULT_DEADLINES_FILE), audit=audit, feeds=feeds)
    items: list[dict[str, Any]] = []
    for i in range(CASES):
        case_id = f"plan-{i}"
        repo.set_access(case_id, f"org-{i % 3}", f"adv-{i % 7}", NOW)
        items.append(_update(case_id, f"{i}-a", "stage_changed", 1, stage="complaint_filed"))
        items.append(_update(case_id, f"{i}-b", "victim_notified", 2, about="hearing"))
    outcomes = svc.submit_many(items, "rest")
    assert {o.status for o in outcomes} == {"accepted"}
    yield svc
    client.drop_database(settings.database)
    client.close()


def _update(case_id: str, uid: str, kind: str, day: int, **fields: Any) -> dict[str, Any]:
    at = (NOW - timedelta(days=30 - day)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"source_system": "sgf", "update_id": uid, "case_id": case_id, "kind": kind, "occurred_at": at, **fields}


def few(n: int = 5) -> list[str]:
    return [f"plan-{i}" for i in range(n)]


def test_batch_reads_use_the_id_index(service: LegalService) -> None:
    repo = service.repo
    # load_many, cached_seqs, agendas: the cases of a batch in one query
    assert_indexed(explain_filter(repo.timelines, {"_id": {"$in": few()}}), "timelines by _id $in")
    assert_indexed(explain_filter(repo.timelines, {"_id": "plan-1"}), "timeline by _id (load)")
    # catch_up_many: the next slot of every case in one probe; catch_up and save: one slot
    probes = [slot_id(c, 3) for c in few()]
    assert_indexed(explain_filter(repo.updates, {"_id": {"$in": probes}}, projection={"_id": 1}), "log probe $in")
    assert_indexed(explain_filter(repo.updates, {"_id": slot_id("plan-1", 1)}), "log slot by _id")
    assert_indexed(explain_filter(repo.updates, {"key": {"$in": ["sgf|1-a", "sgf|2-a"]}}), "log by key")


def test_cache_compare_and_set_uses_the_compound_index(service: LegalService) -> None:
    plan = assert_indexed(
        explain_filter(service.repo.timelines, {"_id": "plan-1", "seq": 2}), "timeline cache compare-and-set"
    )
    assert TIMELINE_SEQ_INDEX in plan.indexes or "_id_" in plan.indexes
    assert plan.docs_examined is None or plan.docs_examined <= 1


def test_access_shapes_use_an_index(service: LegalService) -> None:
    access = service.repo.access
    assert_indexed(explain_filter(access, {"_id": "plan-1"}), "access by _id")
    assert_indexed(explain_filter(access, {"_id": {"$in": few()}}), "access by _id $in (scope of a batch)")
    assert_indexed(explain_filter(access, {"org_id": "org-1"}, projection={"advocate_id": 1}), "cases of an org")
    assert_indexed(explain_filter(access, {"advocate_id": "adv-1"}, projection={"_id": 1}), "cases of an advocate")


def test_supervisors_list_and_gauges_use_an_index(service: LegalService) -> None:
    repo = service.repo
    for shape in repo.list_shapes(few(), stage="complaint_filed", stalled_since=NOW, overdue_at=NOW):
        assert_indexed(explain_filter(repo.timelines, shape), f"supervisors' list {shape}")
    for stage in ("complaint_filed", "trial"):
        shape = {"stage": stage}
        assert_indexed(
            explain_filter(repo.timelines, shape, sort=[("stage_started_at", 1)], limit=1), "oldest of a stage"
        )
        assert_indexed(explain_aggregate(repo.timelines, [{"$match": shape}, {"$count": "n"}]), "cases of a stage")
    rows, total = repo.list_cases("org-1", stage=None, stalled_since=None, overdue_at=None, skip=0, limit=10)
    assert total == CASES // 3 and len(rows) == 10
    stats = {row["_id"]: row["cases"] for row in repo.stage_stats()}
    assert stats == {"complaint_filed": CASES}


def test_audit_and_feed_shapes_use_an_index(service: LegalService) -> None:
    assert service.audit is not None
    coll = service.audit.coll
    for query in (
        AuditQuery(case_id="plan-1"),
        AuditQuery(actor="int-sgf"),
        AuditQuery(request_id="r-1"),
        AuditQuery(case_id="plan-1", since=NOW - timedelta(days=1), until=NOW),
    ):
        assert_indexed(explain_filter(coll, query.mongo(), sort=[("at", -1)]), f"audit search {query}")
    assert_indexed(explain_filter(coll, {}, sort=[("at", -1)], limit=50), "audit, newest first")
    assert service.feeds is not None
    assert_indexed(explain_filter(service.feeds.feeds, {"_id": "x"}), "feed by secret hash")
    assert_indexed(explain_filter(service.feeds.feeds, {"sub": "adv-1"}), "feeds of a user")


def test_outbox_poll_of_the_log_uses_the_sparse_index(service: LegalService) -> None:
    outbox.ensure_outbox_index(service.repo.updates)
    plan = assert_indexed(
        explain_filter(service.repo.updates, outbox.PENDING_FILTER, projection=outbox.PENDING_PROJECTION, limit=500),
        "outbox poll of legal_updates",
    )
    assert outbox.PENDING_INDEX in plan.indexes
