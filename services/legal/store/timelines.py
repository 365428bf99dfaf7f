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
the derived current stage. It is a cache: a reader catches up by probing ``<case_id>#<n + 1>``,
``#<n + 2>``... (point lookups) so a lag left by a crash between the two writes, or by another
process, is seen and healed before anything is validated. A writer appends to it with a
compare-and-set on ``seq`` (``$push`` of the new entries where ``{_id, seq}`` still holds what it
read, served by the compound index ``(_id, seq)``), so a racing writer cannot leave a mix of two
and the cost of a write does not grow with the case's history; a cache it cannot match (deleted,
moved on) is left for the next reader to heal. Its entries are in log order (older caches: court
order); every reader sorts by court order. ``legal_case_access`` (org and advocate per case) is
written only by the case-events consumer.

Batches (:meth:`TimelineRepository.load_many`, :meth:`insert_many`, :meth:`write_timelines`) read
all the cases of a batch in one query, probe the log for all of them in one more, and write the
log, then the caches, with one bulk write each.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Literal

from mongoengine import BooleanField, DateTimeField, DictField, Document, IntField, ListField, StringField
from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.legal.domain.stages import STAGES
from services.legal.domain.timeline import Recorded, TimelineState
from services.legal.domain.updates import dump_update, parse_update
from shared import outbox

log = logging.getLogger(__name__)
# Reads of many ids go in chunks: one query each, never one per case.
CHUNK = 500
# SecantusDB serves ``{_id, seq}`` (the cache's compare-and-set) only from a compound index starting with ``_id``.
TIMELINE_SEQ_INDEX = "timeline_id_seq"
# The supervisors' list and the stage gauges: cases of one stage, oldest stage first.
TIMELINE_STAGE_INDEX = "timeline_stage_started"


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
    # seq of the cache document as read (its entries are records[:cached_seq]); -1: unknown, rewrite whole
    cached_seq: int = -1

    @cached_property
    def keys(self) -> frozenset[str]:
        return frozenset(r.key for r in self.records)


class TimelineRepository:
    def __init__(self) -> None:
        self.updates: Collection = LegalUpdate._get_collection()
        self.timelines: Collection = CaseTimeline._get_collection()
        self.access: Collection = CaseAccess._get_collection()

    def ensure_indexes(self) -> None:
        for doc in (LegalUpdate, CaseTimeline, CaseAccess):
            doc.ensure_indexes()
        self.timelines.create_index([("_id", ASCENDING), ("seq", ASCENDING)], name=TIMELINE_SEQ_INDEX)
        self.timelines.create_index([("stage", ASCENDING), ("stage_started_at", ASCENDING)], name=TIMELINE_STAGE_INDEX)

    # -- the log and its per-case cache
    def load(self, case_id: str) -> Loaded:
        """The case's accepted updates: its cache document, caught up with the log (point lookups only)."""
        return self.catch_up(_from_cache(case_id, self.timelines.find_one({"_id": case_id})))

    def cached_seqs(self, case_ids: list[str]) -> dict[str, int]:
        """The ``seq`` of each case's cache document (absent: no document), in one query per chunk."""
        out: dict[str, int] = {}
        for start in range(0, len(case_ids), CHUNK):
            chunk = case_ids[start : start + CHUNK]
            for doc in self.timelines.find({"_id": {"$in": chunk}}, {"seq": 1}):
                out[doc["_id"]] = int(doc.get("seq") or 0)
        return out

    def load_many(self, case_ids: list[str]) -> dict[str, Loaded]:
        """:meth:`load` for many cases: their cache documents in one query, the log probed in one more."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(case_ids), CHUNK):
            chunk = case_ids[start : start + CHUNK]
            found.update((doc["_id"], doc) for doc in self.timelines.find({"_id": {"$in": chunk}}))
        return self.catch_up_many([_from_cache(c, found.get(c)) for c in case_ids])

    def catch_up_many(self, loadeds: list[Loaded]) -> dict[str, Loaded]:
        """:meth:`catch_up` for many cases: one ``_id $in`` probe of each one's next slot; only cases that
        another writer moved on read further (point lookups, as :meth:`catch_up`)."""
        out = {loaded.case_id: loaded for loaded in loadeds}
        probes = {slot_id(loaded.case_id, loaded.next_seq): loaded for loaded in loadeds}
        slots = list(probes)
        for start in range(0, len(slots), CHUNK):
            for doc in self.updates.find({"_id": {"$in": slots[start : start + CHUNK]}}, {"_id": 1}):
                moved = probes[doc["_id"]]
                out[moved.case_id] = self.catch_up(moved)
        return out

    def catch_up(self, loaded: Loaded) -> Loaded:
        records, seq = list(loaded.records), loaded.next_seq
        while (doc := self.updates.find_one({"_id": slot_id(loaded.case_id, seq)}, {"outbox": 0})) is not None:
            records.append(record_from_entry(doc))
            seq += 1
        if seq == loaded.next_seq:
            return loaded
        return Loaded(loaded.case_id, records, seq, stale_cache=True, cached_seq=loaded.cached_seq)

    @staticmethod
    def log_document(loaded: Loaded, new: Recorded, events: list[Any], topic: str) -> dict[str, Any]:
        """The log document that accepts ``new`` as the case's next update, with its events (outbox)."""
        return {
            "_id": slot_id(loaded.case_id, loaded.next_seq),
            "key": new.key,
            "case_id": loaded.case_id,
            "seq": loaded.next_seq,
            **_entry(new),
            "outbox": outbox.entries(topic, *events),
        }

    def insert_many(self, docs: list[dict[str, Any]]) -> int:
        """Insert log documents in order, in one bulk write; return how many went in before the first refusal.

        Ordered, so a refusal (a seq another writer took, a key already used) leaves no gap behind it:
        everything before it is in, nothing after it is; the caller settles the rest one by one.
        Each document carries this call's ``attempt`` id: the driver retries a write whose reply was
        lost, and SecantusDB then answers "duplicate key" for documents the first attempt did insert,
        so a refused slot holding our own attempt id counts as inserted, not as a refusal.
        """
        if not docs:
            return 0
        attempt = uuid.uuid4().hex
        for doc in docs:
            doc["attempt"] = attempt
        done = 0
        while done < len(docs):
            try:
                self.updates.insert_many(docs[done:], ordered=True)
                return len(docs)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors") or []
                if not errors or any(e.get("code") != 11000 for e in errors):
                    raise
                refused = done + int(errors[0]["index"])
            ours = self._ours(docs[refused:], attempt)
            if ours == 0:
                return refused
            done = refused + ours
        return len(docs)

    def _ours(self, docs: list[dict[str, Any]], attempt: str) -> int:
        """How many of ``docs``, from the first, are stored with ``attempt`` (inserted by a lost reply)."""
        stored = {
            d["_id"]: d.get("attempt")
            for d in self.updates.find({"_id": {"$in": [doc["_id"] for doc in docs]}}, {"attempt": 1})
        }
        count = 0
        for doc in docs:
            if stored.get(doc["_id"]) != attempt:
                break
            count += 1
        return count

    def save(self, loaded: Loaded, new: Recorded, events: list[Any], topic: str) -> Saved:
        """Insert the update with its events: one atomic write, or why not."""
        doc = self.log_document(loaded, new, events, topic)
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

    def write_timelines(self, items: list[tuple[Loaded, TimelineState]]) -> set[str]:
        """Bring many caches up to date in one bulk write; return the case ids whose cache is now current.

        A cache read at ``seq`` s gets the entries after s appended, where ``{_id, seq: s}`` still holds;
        a case without one is created; one whose cache was not read whole is rewritten whole.
        """
        ops: list[Any] = []
        cases: list[str] = []
        for loaded, state in items:
            seq = loaded.next_seq - 1
            if loaded.cached_seq < 0 or loaded.cached_seq > len(loaded.records):
                records = sorted(loaded.records, key=lambda r: r.order)
                whole = {"seq": seq, "updates": [_entry(r) for r in records], **summary(state)}
                ops.append(ReplaceOne({"_id": loaded.case_id}, whole, upsert=True))
            else:
                new = [_entry(r) for r in loaded.records[loaded.cached_seq :]]
                change = {"$set": {"seq": seq, **summary(state)}, "$push": {"updates": {"$each": new}}}
                # upsert only where no cache existed: never a document holding only the newest entries
                ops.append(
                    UpdateOne({"_id": loaded.case_id, "seq": loaded.cached_seq}, change, upsert=loaded.cached_seq == 0)
                )
            cases.append(loaded.case_id)
        if not ops:
            return set()
        try:
            matched = self._bulk(ops)
        except BulkWriteError as exc:  # a cache another writer created first: the next reader heals it
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors") or []):
                raise
            log.info("timeline cache left for the next reader", extra={"count": len(exc.details["writeErrors"])})
            return set()
        # Which ops matched is not reported per op: all current, or trust none (the next batch re-reads them).
        return set(cases) if matched == len(ops) else set()

    def _bulk(self, ops: list[Any]) -> int:
        """``bulk_write`` and how many ops matched or upserted (one by one on mongomock, which lacks it)."""
        if not type(self.timelines).__module__.startswith("mongomock"):
            result = self.timelines.bulk_write(ops, ordered=False)
            return int(result.matched_count + result.upserted_count)
        matched = 0
        for op in ops:
            if isinstance(op, ReplaceOne):
                done = self.timelines.replace_one(op._filter, op._doc, upsert=bool(op._upsert))
            else:
                try:
                    done = self.timelines.update_one(op._filter, op._doc, upsert=bool(op._upsert))
                except DuplicateKeyError:
                    continue
            matched += done.matched_count + (1 if done.upserted_id is not None else 0)
        return matched

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

    def access_of_many(self, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(case_ids), CHUNK):
            out.update((d["_id"], d) for d in self.access.find({"_id": {"$in": case_ids[start : start + CHUNK]}}))
        return out

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
        # The org's cases by ``_id $in`` (served by the id index) and the filters applied here: SecantusDB
        # reads the whole collection for ``_id $in`` combined with any other field, and the org's
        # caseload is what this costs either way.
        docs: list[dict[str, Any]] = []
        for shape in self.list_shapes(list(advocates)):
            docs.extend(self.timelines.find(shape, {"updates": 0, "agenda": 0}))

        def keep(d: dict[str, Any]) -> bool:
            if d.get("stage") is None or (stage and d.get("stage") != stage):
                return False
            if stalled_since is not None and not _before(d.get("stage_started_at"), stalled_since, inclusive=True):
                return False
            return overdue_at is None or _before(d.get("deadline_at"), overdue_at, inclusive=False)

        matching = sorted((d for d in docs if keep(d)), key=lambda d: (_aware(d.get("stage_started_at")), d["_id"]))
        page = matching[skip : skip + limit]
        return [{**d, "advocate_id": advocates.get(d["_id"])} for d in page], len(matching)

    @staticmethod
    def list_shapes(case_ids: list[str], **_filters: Any) -> list[dict[str, Any]]:
        """The queries the supervisors' list issues for these cases (one per chunk; filters apply after)."""
        return [{"_id": {"$in": case_ids[i : i + CHUNK]}} for i in range(0, len(case_ids), CHUNK)]

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
        """Cases and the oldest stage start per stage: per stage, one count and one read, both on the stage index."""
        rows: list[dict[str, Any]] = []
        for stage in STAGES:
            cases = self.timelines.count_documents({"stage": stage})
            if cases:
                oldest = self.timelines.find_one(
                    {"stage": stage}, {"stage_started_at": 1}, sort=[("stage_started_at", 1)]
                )
                rows.append({"_id": stage, "cases": cases, "oldest": (oldest or {}).get("stage_started_at")})
        return rows


def _aware(at: datetime | None) -> datetime:
    if at is None:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _before(at: datetime | None, bound: datetime, *, inclusive: bool) -> bool:
    if at is None:
        return False
    return _aware(at) <= bound if inclusive else _aware(at) < bound


def _from_cache(case_id: str, doc: dict[str, Any] | None) -> Loaded:
    doc = doc or {}
    records = [record_from_entry(e) for e in doc.get("updates") or []]
    seq = int(doc.get("seq") or 0)
    return Loaded(case_id=case_id, records=records, next_seq=seq + 1, cached_seq=seq if len(records) == seq else -1)


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
