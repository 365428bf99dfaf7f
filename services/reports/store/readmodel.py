"""The read model in MongoDB: ``case_facts`` (one document per case), ``cells`` (sums of
contributions by organisation x region x exploitation x month) and ``leases``. The audit records go to the
shared trail (``shared.audit``), not here.

Every query shape is served by an index (:func:`ensure_indexes`): dirty cases by ``dirty``, a cell's
cases by ``cell``, cells by ``org`` and ``period``, the lease by ``_id`` with ``holder`` or ``until``
(``tests/integration/storage/test_poller_plans.py`` explains the materialiser's idle probe and lease).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DeleteOne, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.reports.domain.facts import CaseFacts
from services.reports.domain.figures import DIMENSIONS, cell_id, cell_key, contribution


class VersionConflict(Exception):
    """Another writer changed the case between read and write: read again and re-apply."""

    transient = True


def ensure_indexes(db: Database[Any]) -> None:
    db.case_facts.create_index([("dirty", ASCENDING)], name="dirty")
    db.case_facts.create_index([("cell", ASCENDING)], name="cell")
    db.cells.create_index([("org", ASCENDING), ("period", ASCENDING)], name="org_period")
    db.cells.create_index([("period", ASCENDING)], name="period")
    db.leases.create_index([("_id", ASCENDING), ("holder", ASCENDING)], name="lease_holder")
    db.leases.create_index([("_id", ASCENDING), ("until", ASCENDING)], name="lease_until")


class FactsRepository:
    """Per-case facts, written with a version compare-and-set so two writers never lose a fact."""

    def __init__(self, db: Database[Any]) -> None:
        self.col: Collection[Any] = db.case_facts

    def load(self, case_id: str) -> tuple[CaseFacts, int, str | None]:
        doc = self.col.find_one({"_id": case_id})
        if doc is None:
            return CaseFacts(case_id=case_id), 0, None
        return CaseFacts.from_doc(doc), int(doc.get("v", 0)), doc.get("cell")

    def save(self, facts: CaseFacts, version: int, previous_cell: str | None) -> None:
        """Store facts and their contribution, mark the case dirty for the materialiser."""
        key = cell_key(facts)
        cid = cell_id(key)
        doc = facts.to_doc()
        doc.update(v=version + 1, dirty=True, cell=cid, key=key, contrib=contribution(facts))
        stale = [c for c in ([previous_cell] if previous_cell and previous_cell != cid else []) if c]
        if version == 0:
            doc["stale_cells"] = stale
            try:
                self.col.insert_one(doc)
            except DuplicateKeyError:
                raise VersionConflict(facts.case_id) from None
            return
        update: dict[str, Any] = {"$set": {k: v for k, v in doc.items() if k != "_id"}}
        if stale:
            update["$addToSet"] = {"stale_cells": {"$each": stale}}
        result = self.col.update_one({"_id": facts.case_id, "v": version}, update)
        if result.matched_count != 1:
            raise VersionConflict(facts.case_id)

    def dirty(self, limit: int) -> list[dict[str, Any]]:
        return list(self.col.find({"dirty": True}, {"_id": 1, "v": 1, "cell": 1, "stale_cells": 1}).limit(limit))

    def contributions(self, cids: list[str] | None, chunk: int = 100) -> Iterator[dict[str, Any]]:
        """The stored contributions of every case in the cells ``cids`` (by the cell index, ``chunk``
        cells a query: a long ``$in`` is slow on some servers), or of every case when ``cids`` is None."""
        projection = {"contrib": 1, "key": 1, "cell": 1}
        if cids is None:
            yield from self.col.find({}, projection, batch_size=1000)
            return
        for i in range(0, len(cids), chunk):
            yield from self.col.find({"cell": {"$in": cids[i : i + chunk]}}, projection)

    def clean(self, folded: list[tuple[str, int, list[str]]]) -> None:
        """Mark ``(case_id, version, stale_cells)`` folded: only that version, so a case changed
        meanwhile stays dirty for the next pass."""
        if not folded:
            return
        self.col.bulk_write(
            [
                UpdateOne({"_id": cid, "v": v}, {"$set": {"dirty": False}, "$pullAll": {"stale_cells": stale}})
                for cid, v, stale in folded
            ],
            ordered=False,
        )

    def all_facts(self, batch_size: int = 1000) -> Iterator[CaseFacts]:
        for doc in self.col.find({}, batch_size=batch_size):
            yield CaseFacts.from_doc(doc)

    def insert_many(self, facts: list[CaseFacts]) -> None:
        """Bulk load (synthetic populations): stored clean, so fold them with ``Materialiser.rebuild_all``."""
        docs = []
        for f in facts:
            key = cell_key(f)
            doc = f.to_doc()
            doc.update(v=1, dirty=False, cell=cell_id(key), key=key, contrib=contribution(f), stale_cells=[])
            docs.append(doc)
        if docs:
            self.col.insert_many(docs, ordered=False)


class CellRepository:
    def __init__(self, db: Database[Any]) -> None:
        self.col: Collection[Any] = db.cells

    def put_many(self, cells: list[tuple[str, dict[str, str], dict[str, Any]]]) -> None:
        """Replace each ``(cell_id, key, data)``; a cell left without cases is deleted."""
        now = datetime.now(UTC)
        ops: list[Any] = []
        for cid, key, data in cells:
            if not data.get("cases"):
                ops.append(DeleteOne({"_id": cid}))
                continue
            doc = {**key, "exploitation_types": key["exploitation"].split("+"), "data": data, "updated_at": now}
            ops.append(ReplaceOne({"_id": cid}, doc, upsert=True))
        if ops:
            self.col.bulk_write(ops, ordered=False)

    def ids(self) -> set[str]:
        return {str(d["_id"]) for d in self.col.find({}, {"_id": 1})}

    def delete(self, cids: list[str]) -> None:
        if cids:
            self.col.bulk_write([DeleteOne({"_id": cid}) for cid in cids], ordered=False)

    def find(self, org: str | None, period_from: str | None, period_to: str | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if org:
            query["org"] = org
        if period_from or period_to:
            query["period"] = {}
            if period_from:
                query["period"]["$gte"] = period_from
            if period_to:
                query["period"]["$lte"] = period_to
        projection = {d: 1 for d in DIMENSIONS} | {"data": 1, "exploitation_types": 1}
        return list(self.col.find(query, projection))


class Lease:
    """One holder at a time (``leases`` collection); a dead holder's lease expires and is taken over."""

    def __init__(self, db: Database[Any], name: str, holder: str, seconds: float) -> None:
        self.col: Collection[Any] = db.leases
        self.name, self.holder, self.seconds = name, holder, seconds

    def acquire(self) -> bool:
        """Renew this holder's lease, or take an expired (or missing) one. Two plain filters, each served by a
        compound index that starts with ``_id`` (``{_id, $or: [...]}`` is a collection scan on SecantusDB)."""
        now = datetime.now(UTC)
        update = {"$set": {"holder": self.holder, "until": now + timedelta(seconds=self.seconds)}}
        if self.col.find_one_and_update(self.renew_filter(), update) is not None:
            return True
        try:
            doc = self.col.find_one_and_update(
                self.takeover_filter(now), update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:  # someone else holds a live lease
            return False
        return doc is not None and doc.get("holder") == self.holder

    def renew_filter(self) -> dict[str, Any]:
        return {"_id": self.name, "holder": self.holder}

    def takeover_filter(self, now: datetime) -> dict[str, Any]:
        return {"_id": self.name, "until": {"$lt": now}}
