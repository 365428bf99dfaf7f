"""Directory (staff e-mail addresses), webhook subscriptions, delivery jobs and attempts."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.alerts.domain.alert_status import aware
from services.alerts.domain.page_cursor import Position
from services.alerts.store.documents import (
    DeliveryDoc,
    DirectoryEntryDoc,
    NotifyJobDoc,
    SubscriptionDoc,
)


def _coll(doc: Any) -> Collection:
    return doc._get_collection()


class DirectoryRepository:
    def __init__(self, collection: Collection | None = None) -> None:
        self.coll = collection if collection is not None else _coll(DirectoryEntryDoc)

    def put(
        self,
        user_id: str,
        email: str,
        org_id: str,
        role: str,
        by: str,
        now: datetime,
        *,
        language: str | None = None,
    ) -> dict[str, Any]:
        # language None: the service's default language applies when the e-mail is written
        fields = {
            "email": email,
            "org_id": org_id,
            "role": role,
            "language": language,
            "updated_at": now,
            "updated_by": by,
        }
        self.coll.update_one({"_id": user_id}, {"$set": fields}, upsert=True)
        return {"_id": user_id, **fields}

    def get(self, user_id: str) -> dict[str, Any] | None:
        return self.coll.find_one({"_id": user_id})

    def get_many(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        if not user_ids:
            return {}
        return {d["_id"]: d for d in self.coll.find({"_id": {"$in": list(set(user_ids))}})}

    def delete(self, user_id: str) -> bool:
        return self.coll.delete_one({"_id": user_id}).deleted_count == 1

    def supervisors(self, org_id: str) -> list[dict[str, Any]]:
        return list(self.coll.find({"org_id": org_id, "role": "supervisor"}).sort("_id", ASCENDING))


class SubscriptionRepository:
    def __init__(self, collection: Collection | None = None) -> None:
        self.coll = collection if collection is not None else _coll(SubscriptionDoc)

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        doc = {"_id": f"sub_{uuid.uuid4().hex[:20]}", **fields}
        self.coll.insert_one(doc)
        return doc

    def all(self) -> list[dict[str, Any]]:
        return list(self.coll.find({}).sort("created_at", ASCENDING))

    def get(self, sub_id: str) -> dict[str, Any] | None:
        return self.coll.find_one({"_id": sub_id})

    def delete(self, sub_id: str) -> bool:
        return self.coll.delete_one({"_id": sub_id}).deleted_count == 1


def _new_job(channel: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A queued job as first inserted: pending, due now, no attempt yet."""
    return {
        "channel": channel,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "payload": payload,
        "created_at": now,
    }


class JobRepository:
    def __init__(self, collection: Collection | None = None) -> None:
        self.coll = collection if collection is not None else _coll(NotifyJobDoc)

    def enqueue(self, job_id: str, channel: str, payload: dict[str, Any], now: datetime) -> bool:
        """Insert once (deterministic id); True when new."""
        try:
            result = self.coll.update_one(
                {"_id": job_id}, {"$setOnInsert": _new_job(channel, payload, now)}, upsert=True
            )
        except DuplicateKeyError:  # queued at the same moment by another worker
            return False
        return result.upserted_id is not None

    def enqueue_many(self, jobs: list[tuple[str, str, dict[str, Any]]], now: datetime) -> int:
        """Insert each (id, channel, payload) once, with one bulk write; how many were new."""
        if not jobs:
            return 0
        ops = [
            UpdateOne(
                {"_id": job_id},
                {"$setOnInsert": _new_job(channel, payload, now)},
                upsert=True,
            )
            for job_id, channel, payload in jobs
        ]
        try:
            return self.coll.bulk_write(ops, ordered=False).upserted_count
        except BulkWriteError as exc:  # queued at the same moment by another worker: not new here
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
            return len(exc.details.get("upserted", []))

    def claim(self, now: datetime, lease: timedelta) -> dict[str, Any] | None:
        """Take the most overdue job (or one whose sender died mid-attempt) for ``lease``.

        One conditional update moves it to ``sending``: two workers never take the same attempt,
        and a job whose lease ran out is taken over by the next worker that looks.
        """
        # two shapes, each served by its own index, instead of one $or no index serves on every server;
        # an abandoned attempt first (rare, and older than anything pending), so a busy queue never starves it
        update = {"$set": {"status": "sending", "lease_until": now + lease}, "$inc": {"attempts": 1}}
        for query, order in (
            ({"status": "sending", "lease_until": {"$lte": now}}, "lease_until"),
            ({"status": "pending", "next_attempt_at": {"$lte": now}}, "next_attempt_at"),
        ):
            job = self.coll.find_one_and_update(
                query, update, sort=[(order, ASCENDING)], return_document=ReturnDocument.AFTER
            )
            if job is not None:
                return job
        return None

    def finish(self, job_id: str, attempt: int, status: str, now: datetime, error: str | None = None) -> bool:
        """Record the outcome of ``attempt``; False when its lease ran out and another worker took the job."""
        result = self.coll.update_one(
            {"_id": job_id, "status": "sending", "attempts": attempt},
            {"$set": {"status": status, "finished_at": now, "last_error": error}},
        )
        return result.matched_count == 1

    def retry(self, job_id: str, attempt: int, at: datetime, error: str) -> bool:
        """Put the job back for another attempt at ``at``; False as for :meth:`finish`."""
        result = self.coll.update_one(
            {"_id": job_id, "status": "sending", "attempts": attempt},
            {"$set": {"status": "pending", "next_attempt_at": at, "last_error": error}},
        )
        return result.matched_count == 1

    def get(self, job_id: str) -> dict[str, Any] | None:
        return self.coll.find_one({"_id": job_id})


class DeliveryRepository:
    def __init__(self, collection: Collection | None = None) -> None:
        self.coll = collection if collection is not None else _coll(DeliveryDoc)

    def record(self, **fields: Any) -> None:
        self.coll.insert_one({"_id": uuid.uuid4().hex, **fields})

    def page(
        self, subscription_id: str, limit: int, after: Position | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` attempts newest first (at, then id), after ``after``; and whether more follow."""
        query: dict[str, Any] = {"subscription_id": subscription_id}
        if after is not None:
            query["at"] = {"$lte": after.at}  # ties on ``at`` are told apart by the id, below
        chunk = limit + 1
        while True:
            rows = list(self.coll.find(query).sort([("at", DESCENDING), ("_id", DESCENDING)]).limit(chunk))
            docs = [d for d in rows if after is None or (aware(d["at"]), d["_id"]) < (aware(after.at), after.id)]
            if len(docs) > limit or len(rows) < chunk:
                break
            chunk *= 4  # many attempts at the very same instant as the cursor: read past them
        return docs[:limit], len(docs) > limit
