"""The intake store's query shapes are served by an index on the real server (no scan per write).

``cases_of_person`` used to filter ``{"person_ref": ..., "_id": {"$ne": ...}}``, which SecantusDB
answered with a collection scan on every registration; listings always used ``$or``, a scan too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient

from services.intake.domain.access import ListScope
from services.intake.store import repository as r
from services.intake.store.audit import AuditLog
from services.intake.store.documents import CaseDocument
from shared.audit import AuditQuery, AuditTrail
from shared.explain import assert_indexed, explain_aggregate, explain_filter, explain_find_and_modify
from shared.page_cursor import Position

pytestmark = pytest.mark.integration
N = 400
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SORT = [("registered_at", -1), ("_id", 1)]


@pytest.fixture(scope="module")
def cases(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[Any]:
    client: MongoClient[Any] = MongoClient(stack_env["CENTINELA_MONGO_URI"])
    coll = client[db_name("intake_plans")][f"cases_{uuid.uuid4().hex[:8]}"]
    for spec in CaseDocument._meta["index_specs"]:
        coll.create_index(spec["fields"], sparse=spec.get("sparse", False))
    coll.insert_many(
        [
            {
                "_id": f"cs_{i}",
                "org_id": f"org-{i % 5}",
                "status": "Active",
                "advocate_id": f"adv-{i % 7}",
                "person_ref": f"pr_{i % 50}",
                "region": f"r{i % 3}",
                "services": [{"provider_org_id": f"prov-{i % 4}"}],
                "registered_at": T0 + timedelta(hours=i),
                **({"prosecutor_ref_key": f"FPETP-LIMA-01|{i}-2024-1-0"} if i % 2 else {}),
            }
            for i in range(N)
        ]
    )
    coll.update_one({"_id": "cs_1"}, {"$set": {"pending_links": [{"case_id": "cs_2", "entries": []}]}})
    yield coll
    coll.drop()
    client.close()


def test_registration_lookups_use_an_index(cases: Any) -> None:
    plan = assert_indexed(explain_filter(cases, r.person_query("pr_3"), limit=r.MAX_LINKED + 1), "cases of a person")
    assert plan.docs_examined is None or plan.docs_examined <= N // 50
    assert_indexed(explain_filter(cases, {"_id": {"$in": ["cs_1", "cs_2"]}}), "owners of linked cases")
    assert_indexed(explain_filter(cases, {"_id": "cs_1"}), "back-link update")
    plan = assert_indexed(explain_filter(cases, r.PENDING_LINKS_FILTER), "pending back-links repair")
    assert plan.docs_examined is None or plan.docs_examined <= 1


@pytest.mark.parametrize(
    "scope",
    [ListScope(org_id="org-1"), ListScope(advocate_id="adv-1"), ListScope(provider_org_id="prov-1")],
    ids=["officer", "advocate", "provider"],
)
def test_single_role_listing_uses_an_index(cases: Any, scope: ListScope) -> None:
    query = r.list_query(scope, r.CaseFilter())
    assert query is not None and "$or" not in query
    assert_indexed(explain_filter(cases, query, sort=SORT, limit=50), f"listing {scope}")


def test_listing_by_status_and_counts_use_an_index(cases: Any) -> None:
    query = r.list_query(ListScope(org_id="org-1"), r.CaseFilter(status="Active"))
    assert query == {"org_id": "org-1", "status": "Active"}
    assert_indexed(explain_filter(cases, query, sort=SORT, limit=50), "listing by status")
    pipeline: list[dict[str, Any]] = [
        {"$match": {"org_id": "org-1"}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}}},
    ]
    assert_indexed(explain_aggregate(cases, pipeline), "counts of one organisation")


def test_list_query_keeps_the_scope_when_a_filter_names_the_same_field() -> None:
    query = r.list_query(ListScope(org_id="org-1"), r.CaseFilter(org_id="org-2"))
    assert query == {"$and": [{"org_id": "org-1"}, {"org_id": "org-2"}]}
    both = r.list_query(ListScope(org_id="org-1", advocate_id="adv-1"), r.CaseFilter())
    assert both == {"$or": [{"org_id": "org-1"}, {"advocate_id": "adv-1"}]}
    assert r.list_query(ListScope(), r.CaseFilter(region="x")) is None


def test_carpeta_lookup_uses_an_index(cases: Any) -> None:
    query = {r.REF_KEY_FIELD: "FPETP-LIMA-01|3-2024-1-0"}
    plan = assert_indexed(explain_filter(cases, query), "carpeta fiscal -> case")
    assert plan.docs_examined is None or plan.docs_examined <= 1


def test_document_queries_use_an_index(stack_env: dict[str, str], db_name: Callable[[str], str]) -> None:
    from services.intake.store.case_files import CaseFileDocument

    client: MongoClient[Any] = MongoClient(stack_env["CENTINELA_MONGO_URI"])
    try:
        meta = client[db_name("intake_plans")][f"docs_{uuid.uuid4().hex[:8]}"]
        for spec in CaseFileDocument._meta["index_specs"]:
            meta.create_index(spec["fields"])
        meta.insert_many([{"_id": f"dc_{i}", "case_id": f"cs_{i % 40}", "uploaded_at": i} for i in range(N)])
        sort = [("case_id", 1), ("uploaded_at", 1)]
        plan = assert_indexed(explain_filter(meta, {"case_id": "cs_3"}, sort=sort), "documents of a case")
        assert plan.docs_examined is None or plan.docs_examined <= N // 40
        assert_indexed(explain_filter(meta, {"_id": {"$in": ["dc_1:0", "dc_1:1"]}}), "chunks by id")
        meta.drop()
    finally:
        client.close()


def test_compare_and_set_writes_use_an_index(cases: Any) -> None:
    """A case change and a key rotation write with ``{_id, version}``: SecantusDB served that shape from no
    index (a collection scan per PATCH) until the compound index. ``rekey`` reads each collection in one pass
    (one scan per run: SecantusDB serves no ``_id`` range from an index) and writes by ``_id``."""
    update = {"$set": {"identity.given_names": {}}, "$inc": {"version": 1}}
    plan = assert_indexed(explain_find_and_modify(cases, {"_id": "cs_1", "version": 3}, update), "case CAS write")
    assert plan.docs_examined is None or plan.docs_examined <= 1
    assert_indexed(explain_filter(cases, {"_id": "cs_1"}), "rotation re-read by id")


class Recording:
    """A collection that remembers every ``find`` filter and sort, to explain the shapes a read really sent."""

    def __init__(self, coll: Any) -> None:
        self.coll = coll
        self.finds: list[dict[str, Any]] = []

    def find(self, filter: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        self.finds.append(filter)
        return self.coll.find(filter, *args, **kwargs)


KEYSET_SORT = [("registered_at", -1), ("_id", -1)]


@pytest.mark.parametrize(
    "scope",
    [
        ListScope(org_id="org-1"),
        ListScope(advocate_id="adv-1"),
        ListScope(provider_org_id="prov-1"),
        ListScope(org_id="org-1", advocate_id="adv-2", provider_org_id="prov-3"),
    ],
    ids=["officer", "advocate", "provider", "several roles"],
)
def test_keyset_listing_reads_are_indexed_and_bounded(cases: Any, scope: ListScope) -> None:
    """Every read a cursor page sends is one equality + one time range (no ``$or``/``$and``: SecantusDB
    scans for those), served by a ``(criterion, registered_at)`` index and bounded by its time window."""
    recording = Recording(cases)
    repo = r.CaseRepository(recording)  # type: ignore[arg-type]
    after = Position(T0 + timedelta(hours=300), "cs_300")
    for filters in (r.CaseFilter(), r.CaseFilter(status="Active", region="r1")):
        recording.finds.clear()
        page, _ = repo.page_docs(scope, filters, 5, after)
        assert page and all(d["registered_at"].replace(tzinfo=UTC) < after.at for d in page)
        keys = [(d["registered_at"], d["_id"]) for d in page]
        assert keys == sorted(keys, reverse=True)
        assert recording.finds
        for shape in recording.finds:
            assert not any(k.startswith("$") for k in shape), shape
            assert set(shape["registered_at"]) <= {"$gte", "$lte", "$lt"} and "$gte" in shape["registered_at"]
            plan = assert_indexed(explain_filter(cases, shape, sort=KEYSET_SORT, limit=20), f"keyset {shape}")
            assert "registered_at" in ",".join(plan.indexes), plan.summary()


def test_keyset_audit_reads_are_indexed(stack_env: dict[str, str], db_name: Callable[[str], str]) -> None:
    client: MongoClient[Any] = MongoClient(stack_env["CENTINELA_MONGO_URI"])
    coll = client[db_name("intake_plans")][f"audit_{uuid.uuid4().hex[:8]}"]
    try:
        AuditTrail(coll, "intake").ensure_indexes()
        coll.insert_many(
            [
                {
                    "at": T0 + timedelta(minutes=i),
                    "actor": f"u{i % 9}",
                    "role": "admin",
                    "action": f"a{i % 4}",
                    "case_id": f"cs_{i % 30}",
                    "outcome": "ok",
                    "org": f"org-{i % 3}",
                    "service": ("intake", "legal", "alerts")[i % 3],
                    "request_id": f"r-{i}",
                }
                for i in range(N)
            ]
        )
        recording = Recording(coll)
        log = AuditLog(AuditTrail(recording, "intake"))  # type: ignore[arg-type]
        after = Position(T0 + timedelta(minutes=350), "f" * 24)
        queries = [
            AuditQuery(),
            AuditQuery(case_id="cs_3", action="a3"),
            AuditQuery(actor="u2", org="org-2"),
            AuditQuery(action="a1", since=T0 + timedelta(minutes=10), until=T0 + timedelta(minutes=200)),
            AuditQuery(service="legal"),
            AuditQuery(request_id="r-7"),
        ]
        for query in queries:
            recording.finds.clear()
            records, _ = log.page(query, 5, after)
            assert records
            for shape in recording.finds:
                assert not any(k.startswith("$") for k in shape) and len(shape) <= 2, shape
                assert_indexed(explain_filter(coll, shape, sort=[("at", -1), ("_id", -1)], limit=20), f"audit {shape}")
    finally:
        coll.drop()
        client.close()
