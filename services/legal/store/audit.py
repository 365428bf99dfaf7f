"""The legal service's audit trail: the same document shape as intake's ``audit`` collection.

``{at, actor, role, roles, org, action, case_id, outcome, request_id, reason, details}``;
``outcome`` is ``ok``, ``denied`` (role or scope refused) or ``not_found`` (the case does not
exist). Append-only: the service only inserts. ``CENTINELA_LEGAL_AUDIT_DB`` may name intake's
database so that one collection holds every service's trail and an admin queries it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

OUTCOMES = ("ok", "denied", "not_found")


@dataclass(frozen=True)
class AuditQuery:
    case_id: str | None = None
    actor: str | None = None
    action: str | None = None
    org: str | None = None
    outcome: str | None = None
    request_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def filters(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in vars(self).items() if k not in ("since", "until") and v is not None}
        if self.since is not None or self.until is not None:
            out["at"] = {}
            if self.since is not None:
                out["at"]["$gte"] = self.since
            if self.until is not None:
                out["at"]["$lt"] = self.until
        return out


class AuditLog:
    def __init__(self, collection: Collection[Any]) -> None:
        self.coll = collection

    def ensure_indexes(self) -> None:
        # the same indexes as intake's audit collection, plus request_id (one request's trail)
        self.coll.create_index([("case_id", ASCENDING), ("at", ASCENDING)])
        self.coll.create_index([("actor", ASCENDING), ("at", ASCENDING)])
        self.coll.create_index([("at", ASCENDING)])
        self.coll.create_index([("request_id", ASCENDING)])

    def record_many(self, records: list[dict[str, Any]]) -> None:
        if records:
            # exactly intake's fields (its documents are strict): the service shows in the action ("legal.")
            docs = [{"_id": ObjectId(), "at": datetime.now(UTC), "reason": None, **r} for r in records]
            try:
                self.coll.insert_many(docs, ordered=False)
            except BulkWriteError as exc:
                # ids are made here, so "duplicate key" on them means a retried insert whose first reply was
                # lost had already stored them; anything else is a real failure
                if any(e.get("code") != 11000 for e in exc.details.get("writeErrors") or []):
                    raise

    def search(self, query: AuditQuery, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        filters = query.filters()
        total = self.coll.count_documents(filters)
        cursor = self.coll.find(filters).sort([("at", DESCENDING)]).skip((page - 1) * page_size).limit(page_size)
        return list(cursor), total
