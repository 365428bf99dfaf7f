"""The service layer and its store on an in-memory MongoDB (mongomock): idempotency, optimistic lock, projection."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import mongoengine
import mongomock
import pytest

from services.legal.domain.deadlines import load_policy
from services.legal.domain.timeline import Recorded
from services.legal.domain.updates import parse_update
from services.legal.service import LegalService
from services.legal.settings import DEFAULT_DEADLINES_FILE, LegalSettings
from services.legal.store.timelines import TimelineRepository


@pytest.fixture
def pipeline() -> Iterator[LegalService]:
    mongoengine.disconnect()
    mongoengine.connect(
        "legal_unit", host="mongodb://localhost", mongo_client_class=mongomock.MongoClient, tz_aware=True
    )
    repo = TimelineRepository()
    repo.ensure_indexes()
    notified: list[int] = []
    p = LegalService(LegalSettings(), repo, load_policy(DEFAULT_DEADLINES_FILE), notify=lambda: notified.append(1))
    p.notified = notified  # type: ignore[attr-defined]
    yield p
    mongoengine.disconnect()


def item(n: int, kind: str, day: int, case_id: str = "c-1", **fields) -> dict:
    return {
        "source_system": "sgf",
        "update_id": f"u{n}",
        "case_id": case_id,
        "kind": kind,
        "occurred_at": f"2025-01-{day:02d}T10:00:00Z",
        **fields,
    }


def test_accept_duplicate_reject(pipeline):
    assert pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "rest").status == "accepted"
    assert pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "kafka").status == "duplicate"
    other = pipeline.submit_raw(item(1, "stage_changed", 1, case_id="c-2", stage="complaint_filed"), "rest")
    assert other.status == "rejected" and "another case" in (other.reason or "")
    bad = pipeline.submit_raw(item(2, "stage_changed", 2, stage="trial"), "rest")
    assert bad.status == "rejected" and "complaint_filed -> trial" in (bad.reason or "")
    assert pipeline.submit_raw({"kind": "stage_changed"}, "rest").status == "rejected"
    assert pipeline.notified == [1]  # type: ignore[attr-defined]


def test_one_insert_holds_the_update_and_its_events(pipeline):
    pipeline.submit_raw(item(1, "stage_changed", 1, stage="preliminary_investigation"), "rest")
    doc = pipeline.repo.updates.find_one({"key": "sgf|u1"})
    assert doc["_id"] == "c-1#1" and doc["case_id"] == "c-1" and doc["seq"] == 1
    assert [e["topic"] for e in doc["outbox"]] == ["legal-events"]
    assert "centinela.legal.stage_changed" in doc["outbox"][0]["value"]
    cached = pipeline.repo.timelines.find_one({"_id": "c-1"})
    assert cached["stage"] == "preliminary_investigation" and cached["seq"] == 1 and len(cached["updates"]) == 1


def test_lost_seq_race_revalidates_against_the_winner(pipeline):
    repo = pipeline.repo
    assert pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "rest").status == "accepted"
    stale = repo.load("c-1")
    # another process appends seq 2 first
    assert pipeline.submit_raw(item(2, "stage_changed", 2, stage="preliminary_investigation"), "rest").status == (
        "accepted"
    )

    late = Recorded(parse_update(item(3, "victim_notified", 3)), datetime.now(UTC))
    assert repo.save(stale, late, [], "legal-events") == "conflict"
    caught_up = repo.catch_up(stale)
    assert caught_up.next_seq == 3 and caught_up.stale_cache
    assert pipeline.submit_raw(item(3, "victim_notified", 3), "rest").status == "accepted"
    assert [d["seq"] for d in repo.updates.find({"case_id": "c-1"}).sort("seq", 1)] == [1, 2, 3]


def test_duplicate_heals_a_lagging_cache(pipeline):
    pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "rest")
    pipeline.repo.timelines.delete_many({})  # as if the process died between the log insert and the cache write
    assert pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "kafka").status == "duplicate"
    assert pipeline.repo.timelines.find_one({"_id": "c-1"})["stage"] == "complaint_filed"


def test_lagging_cache_is_rebuilt_from_the_log_before_validating(pipeline):
    pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "rest")
    pipeline.submit_raw(item(2, "stage_changed", 2, stage="preliminary_investigation"), "rest")
    pipeline.repo.timelines.delete_many({})
    # Validated against the empty cache this would start a prosecution; the seq conflict forces the log.
    again = pipeline.submit_raw(item(3, "stage_changed", 3, stage="complaint_filed"), "rest")
    assert again.status == "rejected" and "preliminary_investigation -> complaint_filed" in (again.reason or "")
    assert pipeline.submit_raw(item(4, "stage_changed", 4, stage="preparatory_investigation"), "rest").status == (
        "accepted"
    )
    cached = pipeline.repo.timelines.find_one({"_id": "c-1"})
    assert cached["seq"] == 3 and cached["stage"] == "preparatory_investigation"


def test_access_keeps_the_newest_assignment(pipeline):

    now = datetime.now(UTC)
    pipeline.repo.set_access("c-1", "org-1", "adv-new", now)
    pipeline.repo.set_access("c-1", "org-1", "adv-old", now - timedelta(days=1))  # replayed older fact
    assert pipeline.repo.access_of("c-1")["advocate_id"] == "adv-new"


def test_one_replay_per_accepted_update(pipeline, monkeypatch):
    import services.legal.domain.timeline as timeline_module
    import services.legal.service as service_module

    calls: list[int] = []
    real = timeline_module.replay

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(timeline_module, "replay", counting)
    monkeypatch.setattr(service_module, "replay", counting)
    assert pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "rest").status == "accepted"
    assert len(calls) == 1  # the history before it; in court order it is applied on that state
    calls.clear()
    batch = [item(2, "stage_changed", 3, stage="preliminary_investigation"), item(3, "victim_notified", 4)]
    assert [o.status for o in pipeline.submit_many(batch, "rest")] == ["accepted", "accepted"]
    # issue 16: the history this process wrote last is remembered (checked against the cache's seq and
    # the log's next slot), so a batch of in-order updates replays nothing at all
    assert len(calls) == 0
    calls.clear()
    late = item(4, "victim_notified", 2)
    assert pipeline.submit_raw(late, "rest").status == "accepted"
    assert len(calls) == 1  # a late one: the history with it in place (the history before it is remembered)
    assert pipeline.repo.timelines.find_one({"_id": "c-1"})["stage"] == "preliminary_investigation"
    calls.clear()
    cold = LegalService(pipeline.settings, pipeline.repo, pipeline.policy)  # another process: nothing remembered
    assert cold.submit_many([item(5, "victim_notified", 5), item(6, "victim_notified", 6)], "rest")[1].status == (
        "accepted"
    )
    assert len(calls) == 1  # one load for the batch, none per in-order update


def test_a_refused_insert_mid_batch_settles_the_rest_one_by_one(pipeline):
    """One bulk insert per batch; a key of another case refuses it mid-way and nothing around it is lost."""
    assert pipeline.submit_raw(item(9, "stage_changed", 1, case_id="c-9", stage="complaint_filed"), "rest").status == (
        "accepted"
    )
    batch = [
        item(1, "stage_changed", 1, stage="complaint_filed"),
        item(9, "stage_changed", 1, case_id="c-2", stage="complaint_filed"),  # sgf|u9 belongs to c-9
        item(2, "victim_notified", 2),
        item(3, "stage_changed", 1, case_id="c-3", stage="complaint_filed"),
        item(2, "victim_notified", 2),  # the same key again in the batch
    ]
    outcomes = pipeline.submit_many(batch, "rest")
    assert [o.status for o in outcomes] == ["accepted", "rejected", "accepted", "accepted", "duplicate"]
    assert outcomes[1].code == "key_taken"
    assert [d["_id"] for d in pipeline.repo.updates.find({"case_id": "c-1"}).sort("seq", 1)] == ["c-1#1", "c-1#2"]
    assert pipeline.repo.updates.count_documents({"case_id": "c-2"}) == 0
    assert pipeline.repo.timelines.find_one({"_id": "c-1"})["seq"] == 2
    assert pipeline.repo.timelines.find_one({"_id": "c-3"})["stage"] == "complaint_filed"


def test_remembered_history_is_checked_against_other_writers(pipeline):
    """Another process writing the same case (log and cache, or only the log) is seen before deciding."""
    repo = pipeline.repo
    other = LegalService(pipeline.settings, repo, pipeline.policy)
    assert pipeline.submit_raw(item(1, "stage_changed", 1, stage="complaint_filed"), "rest").status == "accepted"
    assert other.submit_raw(item(2, "stage_changed", 2, stage="preliminary_investigation"), "rest").status == (
        "accepted"
    )
    # remembered at seq 1, the cache moved to 2: read again, so complaint_filed is no longer legal
    again = pipeline.submit_raw(item(3, "stage_changed", 3, stage="complaint_filed"), "rest")
    assert again.status == "rejected" and "preliminary_investigation -> complaint_filed" in (again.reason or "")
    # only the log moves (a writer died before its cache write): the probe of the next slot sees it
    late = Recorded(parse_update(item(4, "stage_changed", 4, stage="preparatory_investigation")), datetime.now(UTC))
    assert repo.save(repo.load("c-1"), late, [], "legal-events") == "saved"
    stale = pipeline.submit_raw(item(5, "stage_changed", 5, stage="preliminary_investigation"), "rest")
    assert stale.status == "rejected" and "preparatory_investigation -> preliminary_investigation" in (
        stale.reason or ""
    )
    assert pipeline.submit_raw(item(6, "victim_notified", 6), "rest").status == "accepted"
    cached = repo.timelines.find_one({"_id": "c-1"})
    assert cached["seq"] == 4 and len(cached["updates"]) == 4 and cached["stage"] == "preparatory_investigation"


def test_the_cache_grows_by_appending_and_a_deleted_one_is_rebuilt_whole(pipeline):
    repo = pipeline.repo
    pipeline.submit_many([item(1, "stage_changed", 1, stage="complaint_filed"), item(2, "victim_notified", 2)], "rest")
    pipeline.submit_many([item(3, "victim_notified", 3), item(4, "victim_notified", 4)], "rest")
    assert [e["update"]["update_id"] for e in repo.timelines.find_one({"_id": "c-1"})["updates"]] == [
        "u1",
        "u2",
        "u3",
        "u4",
    ]
    repo.timelines.delete_many({})
    assert pipeline.submit_raw(item(5, "victim_notified", 5), "rest").status == "accepted"
    cached = repo.timelines.find_one({"_id": "c-1"})
    assert cached["seq"] == 5 and len(cached["updates"]) == 5


def test_a_retried_bulk_insert_whose_first_reply_was_lost_counts_as_accepted(pipeline):
    """The driver retries a write whose reply was lost; the server then says "duplicate" for our own documents."""
    from pymongo.errors import BulkWriteError

    real = pipeline.repo.updates

    class LostReply:
        def __getattr__(self, name):
            return getattr(real, name)

        def insert_many(self, docs, ordered=True):
            real.insert_many(docs[:2], ordered=ordered)  # the first attempt stored two, then the reply was lost
            raise BulkWriteError({"writeErrors": [{"index": 0, "code": 11000, "errmsg": "dup"}], "nInserted": 0})

    pipeline.repo.updates = LostReply()
    try:
        batch = [item(1, "stage_changed", 1, stage="complaint_filed"), item(2, "victim_notified", 2)]
        batch.append(item(3, "victim_notified", 3))
        outcomes = pipeline.submit_many(batch, "rest")
    finally:
        pipeline.repo.updates = real
    # the two stored by the lost attempt are ours; the third was then inserted by the fallback
    assert [o.status for o in outcomes] == ["accepted", "accepted", "accepted"]
    assert [d["seq"] for d in real.find({"case_id": "c-1"}).sort("seq", 1)] == [1, 2, 3]
