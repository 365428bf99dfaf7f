"""MongoDB storage of the timelines: an insert-only log of accepted updates, plus per-case documents.

An accepted court update is an immutable fact, so the log is the source of truth and everything
else is derived from it. That makes acceptance a single atomic write on any MongoDB-wire server
with unique indexes, with no read-modify-write of a shared document.

So every accepted court update is **one insert** into ``legal_updates`` carrying:

* ``_id`` = ``<case_id>#<seq>``: an optimistic lock. A writer that validated against the case's
  first ``n`` updates inserts ``seq = n + 1``; a concurrent writer loses the insert, catches up
  and validates again, so no illegal sequence is ever stored. (``#`` cannot occur in an id.)
* ``key`` = ``source_system|update_id`` under a unique index: the idempotency key, unique across
  all cases, enforced by the same insert;
* ``outbox``: the facts this update causes, published by :class:`shared.outbox.OutboxRelay`, the
  only writer of a log document after its insert.

``legal_timelines`` holds one document per case (``_id`` = case id): a copy of the case's log and
the derived current stage, rewritten whole after each accepted insert. It is a cache: a reader
catches up by probing ``<case_id>#<n + 1>``, ``#<n + 2>``... (point lookups) so a lag left by a
crash between the two writes, or by another process, is seen and healed before anything is
validated. ``legal_case_access`` (org and advocate per case) is written only by the case-events
consumer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from mongoengine import BooleanField, DateTimeField, DictField, Document, IntField, ListField, StringField
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from services.legal.domain.timeline import Recorded, TimelineState
from services.legal.domain.updates import dump_update, parse_update
from shared import outbox


class LegalUpdate(Document):
    """One accepted court update, with the events it caused (outbox)."""

    meta = {
        "collection": "legal_updates",
        "strict": False,
        "auto_create_index": False,
        "indexes": [{"fields": ["key"], "unique": True}],
    }

    slot = StringField(primary_key=True)
    key = StringField(required=True)
    case_id = StringField(required=True, max_length=64)
    seq = IntField(required=True, min_value=1)
    received_at = DateTimeField(required=True)
    path = StringField(required=True)
    body = DictField(required=True, db_field="update")
    outbox = ListField(DictField())


class CaseTimeline(Document):
    """Per-case cache of the log plus the derived current stage (supervisors' list, gauges)."""

    meta = {"collection": "legal_timelines", "strict": False, "auto_create_index": False}

    case_id = StringField(primary_key=True, max_length=64)
    seq = IntField()
    updates = ListField(DictField())
    stage = StringField()
    stage_started_at = DateTimeField()
    deadline_at = DateTimeField()
    extended_deadline_at = DateTimeField()
    complexity = StringField()
    last_activity_at = DateTimeField()
    open = BooleanField()
    updated_at = DateTimeField()
    agenda = ListField(DictField())  # hearings and deadlines ahead (GET /v1/calendar, the iCalendar feed)


class CaseAccess(Document):
    """Projection of intake's case-events: who may read the case."""

    meta = {
        "collection": "legal_case_access",
        "strict": False,
        "auto_create_index": False,
        "indexes": [{"fields": ["org_id"]}, {"fields": ["advocate_id"]}],
    }

    case_id = StringField(primary_key=True, max_length=64)
    org_id = StringField()
    advocate_id = StringField()
    access_at = DateTimeField()


Saved = Literal["saved", "conflict", "other_case"]


@dataclass(frozen=True)
class Loaded:
    case_id: str
    records: list[Recorded]
    next_seq: int
    stale_cache: bool = False  # the log had updates the cache lacked: rewrite it
    # replay(records) once known: the service keeps it so an accepted update costs one replay, not three
    state: TimelineState | None = None

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.records)


class TimelineRepository:
    def __init__(self) -> None:
        self.updates: Collection = LegalUpdate._get_collection()  # type: ignore[type-arg]
        self.timelines: Collection = CaseTimeline._get_collection()  # type: ignore[type-arg]
        self.access: Collection = CaseAccess._get_collection()  # type: ignore[type-arg]

    def ensure_indexes(self) -> None:
        for doc in (LegalUpdate, CaseTimeline, CaseAccess):
            doc.ensure_indexes()

    # -- the log and its per-case cache
    def load(self, case_id: str) -> Loaded:
        """The case's accepted updates: its cache document, caught up with the log (point lookups only)."""
        doc = self.timelines.find_one({"_id": case_id}) or {}
        cached = Loaded(
            case_id=case_id,
            records=[record_from_entry(e) for e in doc.get("updates") or []],
            next_seq=int(doc.get("seq") or 0) + 1,
        )
        return self.catch_up(cached)

    def catch_up(self, loaded: Loaded) -> Loaded:
        records, seq = list(loaded.records), loaded.next_seq
        while (doc := self.updates.find_one({"_id": slot_id(loaded.case_id, seq)}, {"outbox": 0})) is not None:
            records.append(record_from_entry(doc))
            seq += 1
        if seq == loaded.next_seq:
            return loaded
        return Loaded(loaded.case_id, records, seq, stale_cache=True)

    def save(self, loaded: Loaded, new: Recorded, events: list[Any], topic: str) -> Saved:
        """Insert the update with its events: one atomic write, or why not."""
        doc = {
            "_id": slot_id(loaded.case_id, loaded.next_seq),
            "key": new.key,
            "case_id": loaded.case_id,
            "seq": loaded.next_seq,
            **_entry(new),
            "outbox": outbox.entries(topic, *events),
        }
        try:
            self.updates.insert_one(doc)
            return "saved"
        except DuplicateKeyError:
            if self.updates.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
                return "conflict"  # another writer took this seq: catch up and validate again
            # The seq was free, so the key is taken; everything of this case up to here was checked.
            return "other_case"

    def write_timeline(self, loaded: Loaded, state: TimelineState) -> None:
        """Rewrite the case's cache document whole (never a partial update: see the module docstring)."""
        records = sorted(loaded.records, key=lambda r: r.order)
        self.timelines.replace_one(  # whole-document write: a racing writer cannot leave a mix of two
            {"_id": loaded.case_id},
            {"seq": loaded.next_seq - 1, "updates": [_entry(r) for r in records], **summary(state)},
            upsert=True,
        )

    # -- who may read a case
    def set_access(self, case_id: str, org_id: str, advocate_id: str | None, at: datetime) -> None:
        """Record the case's org and advocate unless a newer assignment is already stored."""
        current = self.access.find_one({"_id": case_id}) or {}
        stored_at = current.get("access_at")
        if stored_at is not None:
            if stored_at.tzinfo is None:
                stored_at = stored_at.replace(tzinfo=UTC)
            if stored_at > at:
                return  # a replayed older fact must not undo a later reassignment
        self.access.replace_one(
            {"_id": case_id}, {"org_id": org_id, "advocate_id": advocate_id, "access_at": at}, upsert=True
        )

    def access_of(self, case_id: str) -> dict[str, Any] | None:
        return self.access.find_one({"_id": case_id})

    # -- supervisors' list
    def list_cases(
        self,
        org_id: str,
        *,
        stage: str | None,
        stalled_since: datetime | None,
        overdue_at: datetime | None,
        skip: int,
        limit: int,
    ) -> tuple[list[dict[str, Any]], int]:
        advocates = {d["_id"]: d.get("advocate_id") for d in self.access.find({"org_id": org_id}, {"advocate_id": 1})}
        if not advocates:
            return [], 0
        query: dict[str, Any] = {"_id": {"$in": list(advocates)}, "stage": {"$ne": None}}
        if stage:
            query["stage"] = stage
        if stalled_since is not None:
            query["stage_started_at"] = {"$lte": stalled_since}
        if overdue_at is not None:
            query["deadline_at"] = {"$lt": overdue_at}
        total = self.timelines.count_documents(query)
        cursor = (
            self.timelines.find(query, {"updates": 0})
            .sort([("stage_started_at", 1), ("_id", 1)])
            .skip(skip)
            .limit(limit)
        )
        return [{**d, "advocate_id": advocates.get(d["_id"])} for d in cursor], total

    # -- calendar
    def cases_of(self, *, advocate_id: str | None = None, org_id: str | None = None) -> list[str]:
        """Case ids assigned to an advocate, or of an organisation (indexed reads of the access projection)."""
        query = {"advocate_id": advocate_id} if advocate_id is not None else {"org_id": org_id}
        return [d["_id"] for d in self.access.find(query, {"_id": 1})]

    def agendas(self, case_ids: list[str]) -> list[dict[str, Any]]:
        """Each case's agenda (and, for caches written before agendas existed, its updates to rebuild it)."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(case_ids), 500):
            chunk = case_ids[start : start + 500]
            out.extend(self.timelines.find({"_id": {"$in": chunk}}, {"agenda": 1, "updates": 1, "stage": 1}))
        return out

    # -- gauges
    def stage_stats(self) -> list[dict[str, Any]]:
        """Cases and the oldest stage start per stage (one indexed read per stage for the oldest)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"stage": {"$ne": None}}},
            {"$group": {"_id": "$stage", "cases": {"$sum": 1}}},
        ]
        rows = list(self.timelines.aggregate(pipeline))
        for row in rows:
            oldest = self.timelines.find_one(
                {"stage": row["_id"]}, {"stage_started_at": 1}, sort=[("stage_started_at", 1)]
            )
            row["oldest"] = (oldest or {}).get("stage_started_at")
        return rows


def slot_id(case_id: str, seq: int) -> str:
    return f"{case_id}#{seq}"


def summary(state: TimelineState) -> dict[str, Any]:
    return {
        "stage": state.stage,
        "stage_started_at": state.stage_started_at,
        "deadline_at": state.deadline.deadline_at if state.deadline else None,
        "extended_deadline_at": state.deadline.extended_deadline_at if state.deadline else None,
        "complexity": state.complexity,
        "last_activity_at": state.last_activity_at,
        "open": state.is_open,
        "updated_at": datetime.now(UTC),
        "agenda": agenda(state),
    }


def agenda(state: TimelineState) -> list[dict[str, Any]]:
    """What a calendar shows of a case: pending hearings, the stage deadline, open deadlines (no child data)."""
    items: list[dict[str, Any]] = []
    if state.is_open:
        for hearing in state.hearings.values():
            if hearing.status != "held" and hearing.scheduled_for is not None:
                items.append({"kind": "hearing", "at": hearing.scheduled_for, "ref": hearing.hearing_id})
        if state.deadline is not None:
            items.append(
                {
                    "kind": "stage_deadline",
                    "at": state.deadline.deadline_at,
                    "ref": str(state.stage),
                    "article": state.deadline.basis,
                }
            )
    for d in state.deadlines.values():
        if d.status == "open":
            items.append({"kind": d.kind, "at": d.due_at, "ref": d.deadline_id, "article": d.article})
    return items


def _entry(rec: Recorded) -> dict[str, Any]:
    entry: dict[str, Any] = {"received_at": rec.received_at, "path": rec.path, "update": dump_update(rec.update)}
    if rec.recorded_by is not None:
        entry["recorded_by"] = rec.recorded_by
    if rec.reconciles is not None:
        entry["reconciles"] = rec.reconciles
    return entry


def record_from_entry(entry: dict[str, Any]) -> Recorded:
    received = entry["received_at"]
    if received.tzinfo is None:
        received = received.replace(tzinfo=UTC)
    return Recorded(
        update=parse_update(entry["update"]),
        received_at=received,
        path=entry.get("path", "rest"),
        recorded_by=entry.get("recorded_by"),
        reconciles=entry.get("reconciles"),
    )
