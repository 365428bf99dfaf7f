"""The case aggregate's repository with its outbox; query building lives here. (The audit log is
``store.audit`` on the shared trail.)"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from services.intake.domain.access import ListScope
from services.intake.domain.model import Case
from services.intake.domain.prosecution import ref_key
from services.intake.store.documents import CaseDocument
from services.intake.store.keyset import newest_first, sort_key
from shared import outbox
from shared.events.envelope import EventPayload
from shared.page_cursor import Position
from shared.topics import CASE_EVENTS

_TOP_LEVEL_DATETIMES = ("registered_at", "updated_at")


def ensure_indexes() -> None:
    # the audit trail's indexes are the trail's own (shared.audit.AuditTrail.ensure_indexes, from main)
    CaseDocument.ensure_indexes()


@dataclass(frozen=True)
class CaseFilter:
    """Optional equality filters of a case listing, on indexed fields."""

    status: str | None = None
    region: str | None = None
    advocate_id: str | None = None
    org_id: str | None = None

    def query(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v}


#: the first time window of a keyset read, widened fourfold until a page is full (store.keyset)
CASES_FIRST_WINDOW = timedelta(days=30)
AUDIT_FIRST_WINDOW = timedelta(hours=1)


def _matches(doc: Mapping[str, Any], equal: Mapping[str, Any]) -> bool:
    return all(doc.get(k) == v for k, v in equal.items())


def scope_query(scope: ListScope) -> list[dict[str, Any]]:
    """One ``$or`` branch per criterion of the caller's need-to-know."""
    branches: list[dict[str, Any]] = []
    if scope.org_id is not None:
        branches.append({"org_id": scope.org_id})
    if scope.advocate_id is not None:
        branches.append({"advocate_id": scope.advocate_id})
    if scope.provider_org_id is not None:
        branches.append({"services.provider_org_id": scope.provider_org_id})
    return branches


def to_mongo(case: Case) -> dict[str, Any]:
    doc = case.model_dump(mode="json")
    # Real BSON dates where the store sorts or filters; nested items round-trip through the domain model.
    for name in _TOP_LEVEL_DATETIMES:
        doc[name] = getattr(case, name)
    doc["_id"] = doc.pop("case_id")
    if case.prosecutor_refs is not None:
        doc[REF_KEY_FIELD] = ref_key(case.prosecutor_refs.office, case.prosecutor_refs.carpeta_fiscal)
    return doc


class DuplicateRef(Exception):
    """Another case already holds this carpeta fiscal in this office (the unique index refused it)."""


# Not part of the case: the outbox and the back-links still to be written on earlier cases.
REF_KEY_FIELD = "prosecutor_ref_key"
_STORE_ONLY = ("_id", "outbox", "pending_links", REF_KEY_FIELD)
CASE_PROJECTION: dict[str, Any] = {"outbox": 0, "pending_links": 0}
LIST_PROJECTION: dict[str, Any] = {**CASE_PROJECTION, "identity": 0}
# A registration whose earlier cases are not yet back-linked carries ``pending_links``; the sparse
# index on this field serves the repair query (SecantusDB serves ``$exists`` only from a sparse index).
PENDING_LINKS_FIELD = "pending_links.case_id"
PENDING_LINKS_FILTER: dict[str, Any] = {PENDING_LINKS_FIELD: {"$exists": True}}
MAX_LINKED = 100
# Cases stored before place_of_exploitation was encrypted keep it in plain at the top level (served by
# its sparse index; ``$exists`` needs one on SecantusDB).
LEGACY_PLACE = "place_of_exploitation"
LEGACY_PLACE_FILTER: dict[str, Any] = {LEGACY_PLACE: {"$exists": True}}


ENCRYPTED_PROJECTION: dict[str, Any] = {"_id": 1, "version": 1, "identity": 1, "protected": 1}


def person_query(person_ref: str) -> dict[str, Any]:
    """Cases of one person. Only ``person_ref``: an extra ``_id: {$ne}`` made SecantusDB scan the
    collection on every registration."""
    return {"person_ref": person_ref}


def list_query(scope: ListScope, filters: CaseFilter) -> dict[str, Any] | None:
    """The listing filter; None when the scope is empty. A single criterion with no filter is a plain
    equality (served by its index); ``$or`` is only used for principals holding several roles."""
    branches = scope_query(scope)
    if not branches:
        return None
    extra = filters.query()
    if len(branches) == 1:
        only = branches[0]
        if not extra:
            return only
        if not set(only) & set(extra):
            return {**only, **extra}
        return {"$and": [only, extra]}
    return {"$and": [{"$or": branches}, extra]} if extra else {"$or": branches}


def from_mongo(doc: dict[str, Any]) -> Case:
    data = {k: v for k, v in doc.items() if k not in _STORE_ONLY}
    data["case_id"] = doc["_id"]
    return Case.model_validate(data)


class CaseRepository:
    def __init__(self, collection: Collection) -> None:
        self.coll = collection

    def get(self, case_id: str) -> Case | None:
        doc = self.coll.find_one({"_id": case_id}, CASE_PROJECTION)
        return from_mongo(doc) if doc else None

    def insert(
        self, case: Case, events: list[EventPayload], earlier: dict[str, list[EventPayload]] | None = None
    ) -> None:
        """The new case and its facts in one insert: the outbox entries are part of the document. The
        back-links and facts for ``earlier`` cases of the same person ride along as ``pending_links``
        until ``link`` has written them, so a crash in between is repaired (``repair_links``)."""
        doc = to_mongo(case)
        doc["outbox"] = outbox.entries(CASE_EVENTS, *events)
        if earlier:
            doc["pending_links"] = [
                {"case_id": case_id, "entries": outbox.entries(CASE_EVENTS, *facts)}
                for case_id, facts in sorted(earlier.items())
            ]
        try:
            self.coll.insert_one(doc)
        except DuplicateKeyError as exc:
            if not self._own_retried_insert(exc, doc):
                raise

    def _own_retried_insert(self, exc: DuplicateKeyError, doc: dict[str, Any]) -> bool:
        """pymongo re-sends an insert whose connection dropped; a server that does not recognise the retry
        (SecantusDB, under load) refuses the second copy of an insert that took effect (a 500 on
        registration). The id is 128 random bits made by this request, so a duplicate ``_id`` holding the
        same registration is our own first copy."""
        if (exc.details or {}).get("keyPattern") != {"_id": 1}:
            return False
        stored = self.coll.find_one({"_id": doc["_id"]}, {"registered_by": 1, "org_id": 1, "version": 1})
        return stored is not None and all(stored.get(k) == doc.get(k) for k in ("registered_by", "org_id", "version"))

    def save(self, expected_version: int, case: Case, events: list[EventPayload]) -> bool:
        """Compare-and-set on ``version``; the change and its events in one update. False on a lost race."""
        doc = to_mongo(case)
        doc.pop("_id")
        update: dict[str, Any] = {"$set": doc}
        if REF_KEY_FIELD not in doc:
            update["$unset"] = {REF_KEY_FIELD: ""}
        if events:
            update["$push"] = outbox.push(outbox.entries(CASE_EVENTS, *events))
        try:
            result = self.coll.update_one({"_id": case.case_id, "version": expected_version}, update)
        except DuplicateKeyError:
            raise DuplicateRef() from None
        return result.matched_count == 1

    def find_by_ref(self, office: str, carpeta_fiscal: str) -> Case | None:
        """The case holding this carpeta in this office (the unique ``prosecutor_ref_key`` index)."""
        doc = self.coll.find_one({REF_KEY_FIELD: ref_key(office, carpeta_fiscal)}, {**CASE_PROJECTION, "identity": 0})
        return from_mongo(doc) if doc else None

    def cases_of_person(self, person_ref: str, exclude: str) -> dict[str, str]:
        """Earlier cases of the same person: case id -> owning organisation (at most ``MAX_LINKED``)."""
        docs = self.coll.find(person_query(person_ref), {"_id": 1, "org_id": 1}).limit(MAX_LINKED + 1)
        return dict(sorted((d["_id"], d["org_id"]) for d in docs if d["_id"] != exclude)[:MAX_LINKED])

    def owners(self, case_ids: list[str]) -> dict[str, str]:
        """Owning organisation of each existing case among ``case_ids`` (served by the ``_id`` index)."""
        if not case_ids:
            return {}
        docs = self.coll.find({"_id": {"$in": list(case_ids)}}, {"_id": 1, "org_id": 1})
        return {d["_id"]: d["org_id"] for d in docs}

    def link(self, new_case_id: str) -> int:
        """Write the new case's pending back-links: each earlier case gets the link and its facts in one
        update; bumps their version so a concurrent read-modify-write of those cases retries instead of
        overwriting the link. Idempotent (``$addToSet``), so a repeat after a crash adds nothing that is
        still pending; a fact already published may be published again with the same event id, which
        consumers drop. Returns how many earlier cases were written."""
        doc = self.coll.find_one({"_id": new_case_id}, {"pending_links": 1})
        pending = (doc or {}).get("pending_links") or []
        for item in pending:
            add: dict[str, Any] = {"linked_case_ids": new_case_id}
            if item.get("entries"):
                add["outbox"] = {"$each": item["entries"]}
            self.coll.update_one({"_id": item["case_id"]}, {"$addToSet": add, "$inc": {"version": 1}})
        if pending:
            self.coll.update_one({"_id": new_case_id}, {"$unset": {"pending_links": ""}})
        return len(pending)

    def repair_links(self, limit: int = 1000) -> int:
        """Finish the back-links a crash left pending (at start-up); returns how many cases were repaired."""
        ids = [d["_id"] for d in self.coll.find(PENDING_LINKS_FILTER, {"_id": 1}).limit(limit)]
        for case_id in ids:
            self.link(case_id)
        return len(ids)

    def protect_legacy_places(self, encrypt: Callable[[str, str], dict[str, str]], batch: int = 500) -> int:
        """Encrypt the plain ``place_of_exploitation`` of cases written before it was protected, and remove
        the plain text (``encrypt(case_id, text) -> ciphertext``). Idempotent and safe beside writers: each
        case is changed only if its plain value is still the one read, and its version moves so a
        concurrent read-modify-write retries. Returns how many cases held a plain text."""
        migrated = 0
        while True:
            docs = list(self.coll.find(LEGACY_PLACE_FILTER, {"_id": 1, LEGACY_PLACE: 1}).limit(batch))
            for doc in docs:
                value = doc.get(LEGACY_PLACE)
                update: dict[str, Any] = {"$unset": {LEGACY_PLACE: ""}, "$inc": {"version": 1}}
                if isinstance(value, str) and value.strip():
                    update["$set"] = {f"protected.{LEGACY_PLACE}": encrypt(doc["_id"], value)}
                    migrated += 1
                self.coll.update_one({"_id": doc["_id"], LEGACY_PLACE: value}, update)
            if len(docs) < batch:
                return migrated

    def encrypted_all(self, batch: int) -> Iterator[dict[str, Any]]:
        """Every case's id, version and ciphertext, in one pass (key rotation). One collection scan per run,
        on purpose: SecantusDB serves no ``_id`` range from an index, so paging by ``_id > last`` would scan
        once per page; the caller only reads here and writes after the pass, by ``_id``."""
        return iter(self.coll.find({}, ENCRYPTED_PROJECTION, batch_size=batch))

    def encrypted_one(self, case_id: str) -> dict[str, Any] | None:
        return self.coll.find_one({"_id": case_id}, ENCRYPTED_PROJECTION)

    def replace_ciphertext(self, case_id: str, version: int, blobs: dict[str, dict[str, str]]) -> bool:
        """Set re-encrypted values (``"identity.<name>"`` / ``"protected.<name>"`` paths) if the case is still
        at ``version``; the version moves so a concurrent read-modify-write (which would write back the old
        ciphertext) retries instead. False on a lost race."""
        result = self.coll.update_one({"_id": case_id, "version": version}, {"$set": blobs, "$inc": {"version": 1}})
        return result.matched_count == 1

    def page(
        self, scope: ListScope, filters: CaseFilter, limit: int, after: Position | None = None
    ) -> tuple[list[Case], bool]:
        docs, more = self.page_docs(scope, filters, limit, after)
        return [from_mongo(d) for d in docs], more

    def page_docs(
        self, scope: ListScope, filters: CaseFilter, limit: int, after: Position | None = None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Up to ``limit`` cases in ``scope`` matching ``filters``, newest first by (registered_at, id), after
        ``after``; and whether more follow. One keyset read per need-to-know criterion (no ``$or``), the
        filters applied on what the ``(criterion, registered_at)`` index returns (see ``store.keyset``)."""
        need = limit + 1
        extra = filters.query()
        merged: dict[str, dict[str, Any]] = {}
        for clause in scope_query(scope):
            for doc in newest_first(
                self.coll,
                clause,
                "registered_at",
                need,
                after,
                keep=lambda d: _matches(d, extra),
                projection=LIST_PROJECTION,
                first_window=CASES_FIRST_WINDOW,
            ):
                merged[doc["_id"]] = doc
        docs = sorted(merged.values(), key=lambda d: sort_key(d, "registered_at"), reverse=True)[:need]
        return docs[:limit], len(docs) > limit

    def count(self, scope: ListScope, filters: CaseFilter) -> int:
        query = list_query(scope, filters)
        return 0 if query is None else int(self.coll.count_documents(query))

    def counts_by_status(self, org_id: str | None) -> dict[str, int]:
        pipeline: list[dict[str, Any]] = []
        if org_id is not None:
            pipeline.append({"$match": {"org_id": org_id}})
        pipeline.append({"$group": {"_id": "$status", "n": {"$sum": 1}}})
        return {str(d["_id"]): int(d["n"]) for d in self.coll.aggregate(pipeline)}
