"""Intake's page cursors (shared.page_cursor) and paging parameters, without a server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from pymongo.errors import DuplicateKeyError

from services.intake.api.paging import paging
from services.intake.service.core import Invalid
from services.intake.store.audit import AuditLog
from services.intake.store.keyset import is_after, newest_first
from shared.audit import AuditQuery, AuditTrail
from shared.page_cursor import CursorCodec, CursorError, Position, derive_key, query_digest

AT = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def test_a_cursor_round_trips_and_is_bound_to_its_query_and_list() -> None:
    cases = CursorCodec(derive_key("secret", "centinela-intake-cases-cursor"))
    q = query_digest("user-1", ["intake_officer"], "org-a", {"status": "Active"})
    cursor = cases.encode(Position(AT, "cs_abc"), q)
    assert cases.decode(cursor, q) == Position(AT, "cs_abc")
    other_q = query_digest("user-2", ["intake_officer"], "org-a", {"status": "Active"})
    with pytest.raises(CursorError, match="another query"):
        cases.decode(cursor, other_q)
    with pytest.raises(CursorError):
        CursorCodec(derive_key("secret", "centinela-intake-audit-cursor")).decode(cursor, q)
    for bad in ("", "x", "a.b.c", cursor[:-2] + "zz", cursor.replace(".", "")):
        with pytest.raises(CursorError):
            cases.decode(bad, q)


def test_the_id_breaks_ties_on_time() -> None:
    after = Position(AT, "cs_m")
    assert is_after({"registered_at": AT, "_id": "cs_a"}, "registered_at", after)
    assert not is_after({"registered_at": AT, "_id": "cs_m"}, "registered_at", after)
    assert not is_after({"registered_at": AT, "_id": "cs_z"}, "registered_at", after)
    assert is_after({"registered_at": AT.replace(tzinfo=None, microsecond=0), "_id": "cs_z"}, "registered_at", after)


def test_audit_keyset_uses_one_indexed_equality() -> None:
    def equalities(query: AuditQuery) -> list[set[str]]:
        coll = Recording()
        AuditLog(AuditTrail(coll, "intake")).page(query, 5)  # type: ignore[arg-type]
        return [{k for k in shape if k != "at"} for shape in coll.finds]

    assert set().union(*equalities(AuditQuery(case_id="cs_1", actor="u", action="x"))) == {"case_id"}
    assert set().union(*equalities(AuditQuery(actor="u", outcome="ok"))) == {"actor"}
    assert set().union(*equalities(AuditQuery(action="x"))) == set()


class Recording:
    """An empty collection that remembers the filters ``find`` was sent."""

    def __init__(self) -> None:
        self.finds: list[dict[str, Any]] = []

    def find(self, query: dict[str, Any], projection: Any = None) -> FakeCursor:
        self.finds.append(query)
        return FakeCursor([])


def test_paging_parameters() -> None:
    p = paging(None, None, None, None, None)
    assert (p.limit, p.limit_field, p.total) == (50, "query.limit", True)
    p = paging(20, "c", None, None, None)
    assert (p.limit, p.limit_field, p.total, p.cursor) == (20, "query.limit", False, "c")
    assert paging(10, "c", True, None, None).total is True


@pytest.mark.parametrize(("page", "page_size", "field"), [("2", None, "query.page"), (None, "20", "query.page_size")])
def test_the_removed_page_number_parameters_are_refused_by_name(page: str, page_size: str, field: str) -> None:
    with pytest.raises(Invalid) as exc:
        paging(None, None, None, page, page_size)
    assert exc.value.field == field and exc.value.status_code == 422


class FakeCursor:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs

    def sort(self, keys: list[tuple[str, int]]) -> FakeCursor:
        (field, _), _ = keys
        self.docs = sorted(self.docs, key=lambda d: (d[field], d["_id"]), reverse=True)
        return self

    def limit(self, n: int) -> list[dict[str, Any]]:
        return self.docs[:n]


class FakeCollection:
    """Equality + one time range, like the shapes ``newest_first`` sends; counts the reads."""

    OPS: ClassVar[dict[str, Callable[[Any, Any], bool]]] = {
        "$gte": lambda a, b: a >= b,
        "$lte": lambda a, b: a <= b,
        "$lt": lambda a, b: a < b,
    }

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = docs
        self.reads = 0

    def find(self, query: dict[str, Any], projection: Any = None) -> FakeCursor:
        self.reads += 1

        def ok(d: dict[str, Any]) -> bool:
            for k, v in query.items():
                if isinstance(v, dict):
                    if not all(self.OPS[op](d[k], bound) for op, bound in v.items()):
                        return False
                elif d.get(k) != v:
                    return False
            return True

        return FakeCursor([d for d in self.docs if ok(d)])


def test_newest_first_walks_ties_windows_and_bounds_exactly_once() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    # 40 records tied on one instant, the rest spread over two years (windows widen to reach them)
    docs = [{"_id": f"id{i:03d}", "at": base, "org": "a", "k": i % 2} for i in range(40)]
    docs += [{"_id": f"jd{i:03d}", "at": base - timedelta(days=3 * i), "org": "a", "k": i % 2} for i in range(1, 250)]
    docs += [{"_id": f"xx{i:03d}", "at": base - timedelta(days=i), "org": "b", "k": 0} for i in range(50)]
    coll = FakeCollection(docs)
    now = base + timedelta(hours=1)

    def walk(**kw: Any) -> list[str]:
        seen: list[str] = []
        after = None
        while True:
            page = newest_first(coll, {"org": "a"}, "at", 8, after, first_window=timedelta(hours=2), now=now, **kw)  # type: ignore[arg-type]
            seen += [d["_id"] for d in page[:7]]
            if len(page) <= 7:
                return seen
            after = Position(page[6]["at"], page[6]["_id"])

    expected = sorted((d for d in docs if d["org"] == "a"), key=lambda d: (d["at"], d["_id"]), reverse=True)
    assert walk() == [d["_id"] for d in expected]
    keep = walk(keep=lambda d: d["k"] == 1)
    assert keep == [d["_id"] for d in expected if d["k"] == 1]
    since, until = base - timedelta(days=300), base - timedelta(days=30)
    bounded = walk(since=since, until=until)
    assert bounded == [d["_id"] for d in expected if since <= d["at"] < until]


class RetriedInsert:
    """A collection whose insert took effect, then was refused when pymongo re-sent it."""

    def __init__(self, stored: dict[str, Any] | None, key: dict[str, int]) -> None:
        self.stored, self.key = stored, key

    def insert_one(self, doc: dict[str, Any]) -> None:
        raise DuplicateKeyError("E11000", 11000, {"keyPattern": self.key})

    def find_one(self, query: dict[str, Any], projection: Any = None) -> dict[str, Any] | None:
        return self.stored


def test_a_retried_registration_insert_is_not_a_500() -> None:
    """Before: the integration run saw a 500 DuplicateKeyError on ``_id`` for a fresh random case id."""
    from services.intake.domain.model import Case
    from services.intake.store.repository import CaseRepository, to_mongo

    now = datetime.now(UTC)
    case = Case.model_validate(
        {"case_id": "cs_x", "org_id": "org-a", "registered_at": now, "registered_by": "u", "updated_at": now}
    )
    mine = {k: to_mongo(case)[k] for k in ("registered_by", "org_id", "version")}
    CaseRepository(RetriedInsert(mine, {"_id": 1})).insert(case, [])  # type: ignore[arg-type]
    with pytest.raises(DuplicateKeyError):
        CaseRepository(RetriedInsert({**mine, "registered_by": "other"}, {"_id": 1})).insert(case, [])  # type: ignore[arg-type]
    with pytest.raises(DuplicateKeyError):
        CaseRepository(RetriedInsert(mine, {"prosecutor_ref_key": 1})).insert(case, [])  # type: ignore[arg-type]
