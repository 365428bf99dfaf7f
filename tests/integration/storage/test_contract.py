"""Storage contract: the MongoDB features centinela relies on, against the real server.

Swapping the server (FerretDB, SecantusDB, MongoDB) must never silently break a query: every
feature the services and shared/outbox.py use is exercised here.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import mongoengine
import pytest
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.mongo import connect, ping
from shared.settings import CommonSettings

pytestmark = pytest.mark.integration


def test_unique_index_rejects_duplicates(coll: Any) -> None:
    coll.create_index([("event_id", ASCENDING)], unique=True, name="uniq_event")
    coll.insert_one({"event_id": "ev-1", "n": 1})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"event_id": "ev-1", "n": 2})
    assert coll.count_documents({"event_id": "ev-1"}) == 1
    assert coll.find_one({"event_id": "ev-1"})["n"] == 1
    assert "uniq_event" in coll.index_information()


def test_unique_compound_index(coll: Any) -> None:
    coll.create_index([("case_id", ASCENDING), ("rule", ASCENDING), ("episode", ASCENDING)], unique=True)
    coll.insert_one({"case_id": "c1", "rule": "legal.no_activity", "episode": 1})
    coll.insert_one({"case_id": "c1", "rule": "legal.no_activity", "episode": 2})  # another episode: fine
    coll.insert_one({"case_id": "c2", "rule": "legal.no_activity", "episode": 1})  # another case: fine
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"case_id": "c1", "rule": "legal.no_activity", "episode": 1})
    assert coll.count_documents({}) == 3


def test_duplicate_id_rejected(coll: Any) -> None:
    coll.insert_one({"_id": "c1"})
    with pytest.raises(DuplicateKeyError):
        coll.insert_one({"_id": "c1"})


def test_compare_and_set_on_version_one_winner_per_version(coll: Any) -> None:
    coll.insert_one({"_id": "agg", "version": 0, "writes": []})
    writers, versions = 4, 8
    barrier = threading.Barrier(writers)
    wins: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        try:
            for v in range(versions):
                barrier.wait(timeout=30)  # every writer races for the same version
                result = coll.update_one(
                    {"_id": "agg", "version": v}, {"$set": {"version": v + 1}, "$push": {"writes": n}}
                )
                if result.modified_count == 1:
                    with lock:
                        wins.append((v, n))
        except BaseException as exc:  # surfaced below; a thread must not die silently
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    per_version = Counter(v for v, _ in wins)
    assert per_version == {v: 1 for v in range(versions)}, per_version
    doc = coll.find_one({"_id": "agg"})
    assert doc["version"] == versions
    assert doc["writes"] == [n for _, n in sorted(wins)]


def test_conditional_update_does_not_match_a_stale_version(coll: Any) -> None:
    coll.insert_one({"_id": "agg", "version": 3})
    assert coll.update_one({"_id": "agg", "version": 2}, {"$set": {"version": 3}}).matched_count == 0
    assert coll.update_one({"_id": "agg", "version": 3}, {"$inc": {"version": 1}}).modified_count == 1
    assert coll.find_one({"_id": "agg"})["version"] == 4


def test_upsert_inserts_then_updates(coll: Any) -> None:
    r1 = coll.update_one(
        {"_id": "c1"}, {"$setOnInsert": {"created": 1}, "$set": {"status": "Active"}, "$inc": {"n": 1}}, upsert=True
    )
    assert r1.upserted_id == "c1"
    r2 = coll.update_one(
        {"_id": "c1"}, {"$setOnInsert": {"created": 2}, "$set": {"status": "FollowUp"}, "$inc": {"n": 1}}, upsert=True
    )
    assert r2.upserted_id is None and r2.modified_count == 1
    assert coll.find_one({"_id": "c1"}) == {"_id": "c1", "created": 1, "status": "FollowUp", "n": 2}


def test_upsert_on_a_unique_key_never_duplicates(coll: Any) -> None:
    coll.create_index([("alert_id", ASCENDING)], unique=True)
    for _ in range(3):
        coll.update_one({"alert_id": "al_1"}, {"$set": {"state": "open"}}, upsert=True)
    assert coll.count_documents({"alert_id": "al_1"}) == 1


def test_push_each_pull_all_and_outbox_exists_query(coll: Any) -> None:
    """The exact operations of shared/outbox.py: $push $each, the pending query, $pullAll of read entries."""
    coll.insert_one({"_id": "c1", "outbox": []})
    coll.insert_one({"_id": "c2", "outbox": []})
    at = datetime(2025, 2, 3, 4, 5, 6, 789000, tzinfo=UTC)
    coll.update_one({"_id": "c1"}, {"$push": {"outbox": {"id": "e1", "topic": "t", "created_at": at}}})
    coll.update_one({"_id": "c1"}, {"$push": {"outbox": {"$each": [{"id": "e2", "created_at": at}, {"id": "e3"}]}}})
    assert [e["id"] for e in coll.find_one({"_id": "c1"})["outbox"]] == ["e1", "e2", "e3"]

    pending = list(coll.find({"outbox.0": {"$exists": True}}, {"outbox": 1}))
    assert [d["_id"] for d in pending] == ["c1"]
    assert set(pending[0]) == {"_id", "outbox"}  # projection

    read = pending[0]["outbox"]
    coll.update_one({"_id": "c1"}, {"$push": {"outbox": {"id": "e4"}}})  # written while publishing
    coll.update_one({"_id": "c1"}, {"$pullAll": {"outbox": [read[0], read[2]]}})
    assert [e["id"] for e in coll.find_one({"_id": "c1"})["outbox"]] == ["e2", "e4"]
    coll.update_one({"_id": "c1"}, {"$pullAll": {"outbox": coll.find_one({"_id": "c1"})["outbox"]}})
    assert coll.find_one({"_id": "c1"})["outbox"] == []
    assert coll.count_documents({"outbox.0": {"$exists": True}}) == 0


def test_pull_exact_embedded_document(coll: Any) -> None:
    coll.insert_one({"_id": "c1", "flags": [{"id": "f1", "kind": "a"}, {"id": "f2", "kind": "b"}]})
    coll.update_one({"_id": "c1"}, {"$pull": {"flags": {"id": "f1", "kind": "a"}}})
    assert coll.find_one({"_id": "c1"})["flags"] == [{"id": "f2", "kind": "b"}]


def test_concurrent_single_document_updates_are_not_lost(coll: Any) -> None:
    """The outbox relies on it: an API $push racing the relay's $pullAll must never lose an entry."""
    coll.insert_one({"_id": "agg", "n": 0, "outbox": []})
    writers, each = 4, 25
    barrier = threading.Barrier(writers)

    def writer(k: int) -> None:
        barrier.wait(timeout=30)
        for i in range(each):
            coll.update_one({"_id": "agg"}, {"$inc": {"n": 1}, "$push": {"outbox": {"id": f"{k}-{i}"}}})

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    doc = coll.find_one({"_id": "agg"})
    assert (doc["n"], len(doc["outbox"])) == (writers * each, writers * each)


def test_change_and_outbox_push_in_one_update(coll: Any) -> None:
    coll.insert_one({"_id": "c1", "version": 1, "status": "Active", "outbox": []})
    r = coll.update_one(
        {"_id": "c1", "version": 1},
        {"$set": {"status": "Closed", "version": 2}, "$push": {"outbox": {"$each": [{"id": "e9"}]}}},
    )
    assert r.modified_count == 1
    doc = coll.find_one({"_id": "c1"})
    assert (doc["status"], doc["version"], doc["outbox"]) == ("Closed", 2, [{"id": "e9"}])


def test_batch_pull_all_and_backlog_size_sum(coll: Any) -> None:
    """What the outbox relay does per batch: one update_many $pullAll of the batch's entries, and a $size sum."""
    coll.insert_many(
        [{"_id": "a", "outbox": [{"id": 1}, {"id": 2}]}, {"_id": "b", "outbox": [{"id": 3}]}, {"_id": "c", "v": 1}]
    )
    result = coll.update_many({"_id": {"$in": ["a", "b"]}}, {"$pullAll": {"outbox": [{"id": 1}, {"id": 3}]}})
    assert result.modified_count == 2
    assert coll.find_one({"_id": "a"})["outbox"] == [{"id": 2}]
    assert coll.find_one({"_id": "b"})["outbox"] == []
    rows = list(
        coll.aggregate(
            [
                {"$match": {"outbox.0": {"$exists": True}}},
                {"$group": {"_id": None, "n": {"$sum": {"$size": "$outbox"}}}},
            ]
        )
    )
    assert rows == [{"_id": None, "n": 1}]


def test_sort_and_page(coll: Any) -> None:
    coll.create_index([("org_id", ASCENDING), ("raised_at", DESCENDING)])
    base = datetime(2025, 1, 1, tzinfo=UTC)
    coll.insert_many([{"_id": f"a{i:02d}", "org_id": "o1", "raised_at": base + timedelta(hours=i)} for i in range(25)])
    coll.insert_many([{"_id": f"b{i:02d}", "org_id": "o2", "raised_at": base} for i in range(5)])

    def page(n: int) -> list[str]:
        cursor = coll.find({"org_id": "o1"}).sort([("raised_at", DESCENDING), ("_id", ASCENDING)])
        return [d["_id"] for d in cursor.skip(n * 10).limit(10)]

    assert page(0) == [f"a{i:02d}" for i in range(24, 14, -1)]
    assert page(1) == [f"a{i:02d}" for i in range(14, 4, -1)]
    assert page(2) == [f"a{i:02d}" for i in range(4, -1, -1)]
    assert page(3) == []
    assert coll.count_documents({"org_id": "o1"}) == 25


def test_aggregate_match_group(coll: Any) -> None:
    coll.insert_many(
        [
            {"org_id": "o1", "severity": "high", "state": "open"},
            {"org_id": "o1", "severity": "high", "state": "open"},
            {"org_id": "o1", "severity": "low", "state": "open"},
            {"org_id": "o1", "severity": "high", "state": "resolved"},
            {"org_id": "o2", "severity": "high", "state": "open"},
        ]
    )
    rows = list(
        coll.aggregate(
            [
                {"$match": {"org_id": "o1", "state": "open"}},
                {"$group": {"_id": "$severity", "count": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert rows == [{"_id": "high", "count": 2}, {"_id": "low", "count": 1}]


def test_find_one_and_update_returns_the_new_document(coll: Any) -> None:
    coll.insert_one({"_id": "al_1", "state": "open", "version": 1})
    doc = coll.find_one_and_update(
        {"_id": "al_1", "state": "open"},
        {"$set": {"state": "acknowledged"}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    assert doc == {"_id": "al_1", "state": "acknowledged", "version": 2}
    # the condition no longer holds: nothing matched, None returned
    assert coll.find_one_and_update({"_id": "al_1", "state": "open"}, {"$set": {"state": "x"}}) is None
    upserted = coll.find_one_and_update(
        {"_id": "al_2"}, {"$set": {"state": "open"}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert upserted == {"_id": "al_2", "state": "open"}


def test_mongoengine_connect_is_tz_aware(settings: CommonSettings) -> None:
    name = f"tz_{uuid.uuid4().hex[:10]}"

    class Stamp(mongoengine.Document):
        meta = {"collection": name}  # noqa: RUF012
        at = mongoengine.DateTimeField(required=True)
        label = mongoengine.StringField()

    client = connect(settings)
    try:
        assert ping(client)
        lima = timezone(timedelta(hours=-5))
        moment = datetime(2025, 7, 28, 9, 30, 15, 123000, tzinfo=lima)
        Stamp(at=moment, label="x").save()
        loaded = Stamp.objects.get(label="x")
        assert loaded.at.tzinfo is not None
        assert loaded.at == moment  # the same instant, returned in UTC
        assert loaded.at.utcoffset() == timedelta(0)
        assert Stamp.objects(at__lt=moment + timedelta(seconds=1)).count() == 1
        Stamp._get_collection().drop()
    finally:
        mongoengine.disconnect()
