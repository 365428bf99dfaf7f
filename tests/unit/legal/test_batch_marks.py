"""Issue 18 item 1 (legal side): facts of one batch carry its id; the last accepted update of each case, batch_last.

Also issue 11 item 3: every recorded update leaves an audit record (one insert per batch).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import mongoengine
import mongomock
import pytest

from services.legal.domain.deadlines import load_policy
from services.legal.service import Actor, LegalService
from services.legal.settings import DEFAULT_DEADLINES_FILE, LegalSettings
from services.legal.store.audit import AuditLog, AuditQuery
from services.legal.store.timelines import TimelineRepository
from shared.auth import Principal


@pytest.fixture
def service() -> Iterator[LegalService]:
    mongoengine.disconnect()
    client = mongoengine.connect(
        "legal_batch", host="mongodb://localhost", mongo_client_class=mongomock.MongoClient, tz_aware=True
    )
    repo = TimelineRepository()
    audit = AuditLog(client["legal_batch"]["audit"])
    yield LegalService(LegalSettings(), repo, load_policy(DEFAULT_DEADLINES_FILE), audit=audit)
    mongoengine.disconnect()


def item(n: int, case_id: str, kind: str, day: int, **fields: Any) -> dict[str, Any]:
    at = f"2025-01-{day:02d}T10:00:00Z"
    return {"source_system": "sgf", "update_id": f"b{n}", "case_id": case_id, "kind": kind, "occurred_at": at} | fields


def payloads(service: LegalService, key: str) -> list[dict[str, Any]]:
    """The facts stored in the update's outbox (what the relay will publish)."""
    doc = service.repo.updates.find_one({"key": key}) or {}
    return [json.loads(entry["value"])["data"] for entry in doc.get("outbox", [])]


def test_a_batch_marks_its_facts_and_the_last_of_each_case(service: LegalService):
    batch = [
        item(1, "c-a", "stage_changed", 1, stage="preliminary_investigation"),
        item(2, "c-b", "stage_changed", 1, stage="preliminary_investigation"),
        item(3, "c-a", "hearing_scheduled", 2, hearing_id="h", scheduled_for="2025-02-01T10:00:00Z"),
        item(4, "c-b", "hearing_held", 3, hearing_id="h"),
        item(5, "c-a", "nonsense", 4),  # invalid: never the last of its case
    ]
    outcomes = service.submit_many(batch, "rest")
    assert [o.status for o in outcomes] == ["accepted", "accepted", "accepted", "accepted", "rejected"]
    marks = {
        n: [(p.get("batch_id"), p.get("batch_last")) for p in payloads(service, f"sgf|b{n}")] for n in (1, 2, 3, 4)
    }
    ids = {m[0] for ms in marks.values() for m in ms}
    assert len(ids) == 1 and None not in ids  # one batch id on every fact
    assert {m[1] for m in marks[1]} == {False} and {m[1] for m in marks[2]} == {False}
    assert {m[1] for m in marks[3]} == {True} and {m[1] for m in marks[4]} == {True}
    # a single update is no batch: evaluated at once, as always
    service.submit_many([item(6, "c-a", "victim_notified", 5)], "rest")
    assert all(p.get("batch_id") is None for p in payloads(service, "sgf|b6"))


def test_every_recorded_update_is_audited_with_who_and_the_request(service: LegalService):
    actor = Actor.of(Principal(sub="adv-1", roles=frozenset({"legal_advocate"}), org="org-1"), "rid-1")
    batch = [
        item(10, "c-z", "stage_changed", 1, stage="complaint_filed"),
        item(11, "c-z", "stage_changed", 2, stage="final"),
    ]
    service.submit_many(batch, "rest", actor=actor)
    assert service.audit is not None
    records, total = service.audit.search(AuditQuery(request_id="rid-1"), 1, 50)
    assert total == 2
    by_status = {r["details"]["status"]: r for r in records}
    assert set(by_status) == {"accepted", "rejected"}
    assert all(r["actor"] == "adv-1" and r["role"] == "legal_advocate" and r["case_id"] == "c-z" for r in records)
    assert by_status["rejected"]["details"]["code"] == "illegal"
    service.submit_many([item(12, "c-y", "stage_changed", 1, stage="complaint_filed")], "kafka")
    (kafka,) = service.audit.search(AuditQuery(case_id="c-y"), 1, 50)[0]
    assert kafka["actor"] == "system:sgf" and kafka["details"]["path"] == "kafka"
