"""Keyset paging of ``GET /v1/cases`` and ``GET /v1/audit`` (issue 17 item 5).

Before: both paged by page number over a newest-first list, so a client walking the pages while cases
or audit records arrived saw some twice and missed others. Now each page ends with ``next_cursor``
(the last item's time and id, signed and bound to the caller and filters): walking the pages while
writers add items yields every item that existed at the start exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.intake.conftest import AsRole, case_body

pytestmark = pytest.mark.integration


def walk(c: httpx.Client, path: str, params: dict[str, Any], writer: Writer | None = None) -> list[Any]:
    """Every page from the first, following next_cursor; returns the items in order. With ``writer``, the
    second page is read only once the writer has added an item after the first page."""
    items: list[Any] = []
    cursor = None
    for n in range(1000):
        if writer is not None and n == 1:
            writer.wait_for_more()
        r = c.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= params["limit"]
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the pages never ended")


class Writer:
    """Adds items in a thread until stopped; counts what it added."""

    def __init__(self, add: Any) -> None:
        self.add = add
        self.added: list[str] = []
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.added.append(self.add())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def wait_for_more(self, timeout: float = 30.0) -> None:
        start, deadline = len(self.added), time.monotonic() + timeout
        while len(self.added) == start:
            assert not self.errors, self.errors
            assert time.monotonic() < deadline, "the writer added nothing"
            time.sleep(0.01)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.errors, self.errors


@pytest.fixture
def org_officer(as_role: AsRole) -> Iterator[httpx.Client]:
    yield as_role("intake_officer", sub=f"officer-{uuid.uuid4().hex[:6]}", org=f"org-page-{uuid.uuid4().hex[:8]}")


def register(c: httpx.Client) -> str:
    r = c.post("/v1/cases", json=case_body(uuid.uuid4().hex))
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def test_walking_cases_while_cases_arrive_yields_each_once(org_officer: httpx.Client) -> None:
    before = [register(org_officer) for _ in range(23)]
    with Writer(lambda: register(org_officer)) as writer:
        listed = walk(org_officer, "/v1/cases", {"limit": 4}, writer)
        seen_during = len(writer.added)
    ids = [c["case_id"] for c in listed]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert set(before) <= set(ids)
    assert seen_during > 0, "nothing was registered while the pages were read"
    # newest first, then id: the order the cursor continues
    keys = [(c["registered_at"], c["case_id"]) for c in listed]
    assert keys == sorted(keys, reverse=True)
    # a whole walk after the writer stopped sees every case exactly once
    again = [c["case_id"] for c in walk(org_officer, "/v1/cases", {"limit": 50})]
    assert len(again) == len(set(again)) == len(before) + len(writer.added)


def test_walking_the_audit_log_while_records_arrive_yields_each_once(as_role: AsRole) -> None:
    actor = f"paging-{uuid.uuid4().hex[:8]}"
    worker = as_role("intake_officer", sub=actor, org=f"org-page-{uuid.uuid4().hex[:8]}")
    admin = as_role("admin", sub=f"admin-{uuid.uuid4().hex[:6]}", org=None)

    def act() -> str:
        rid = uuid.uuid4().hex
        assert worker.get("/v1/cases", headers={"X-Request-ID": rid}).status_code == 200
        return rid

    before = [act() for _ in range(17)]
    with Writer(act) as writer:
        listed = walk(admin, "/v1/audit", {"actor": actor, "limit": 3}, writer)
        during = len(writer.added)
    rids = [i["request_id"] for i in listed]
    assert [r for r, n in Counter(rids).items() if n > 1] == []
    assert set(before) <= set(rids)
    assert during > 0
    assert all(i["actor"] == actor and i["action"] == "case.list" for i in listed)
    # a filter the keyset read applies itself (action) and a time window pages the same way
    since = min(i["at"] for i in listed).replace("+00:00", "")
    by_action = walk(admin, "/v1/audit", {"actor": actor, "action": "case.list", "since": since[:19], "limit": 5})
    assert len({i["request_id"] for i in by_action}) == len(by_action) >= len(before)


def test_a_bad_cursor_is_422_naming_query_cursor(as_role: AsRole, org_officer: httpx.Client) -> None:
    for _ in range(3):
        register(org_officer)
    first = org_officer.get("/v1/cases", params={"limit": 2}).json()
    cursor = first["next_cursor"]
    assert cursor and first["total"] == 3 and first["limit"] == 2

    def refused(r: httpx.Response) -> None:
        assert r.status_code == 422, r.text
        assert [d["field"] for d in r.json()["detail"]] == ["query.cursor"]

    refused(org_officer.get("/v1/cases", params={"limit": 2, "cursor": "garbage"}))
    refused(org_officer.get("/v1/cases", params={"limit": 2, "cursor": cursor[:-3] + "AAA"}))
    # bound to the filters and to the caller
    refused(org_officer.get("/v1/cases", params={"limit": 2, "cursor": cursor, "status": "Active"}))
    other = as_role("intake_officer", sub="someone-else", org="org-page-other")
    refused(other.get("/v1/cases", params={"limit": 2, "cursor": cursor}))
    # a cases cursor is not an audit cursor
    admin = as_role("admin", org=None)
    refused(admin.get("/v1/audit", params={"limit": 2, "cursor": cursor}))
    second = org_officer.get("/v1/cases", params={"limit": 2, "cursor": cursor}).json()
    assert second["next_cursor"] is None and second["total"] is None and len(second["items"]) == 1
    assert org_officer.get("/v1/cases", params={"limit": 201}).status_code == 422


def test_the_removed_page_numbers_are_refused_naming_the_parameter(org_officer: httpx.Client, as_role: AsRole) -> None:
    """Page-number paging is gone: a client still sending it learns so at once instead of reading page 1 again."""
    admin = as_role("admin", org=None)
    for client, path in ((org_officer, "/v1/cases"), (admin, "/v1/audit")):
        for params, field in (({"page": 2}, "query.page"), ({"page_size": 20}, "query.page_size")):
            r = client.get(path, params=params)
            assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, (path, r.text)
    page = org_officer.get("/v1/cases", params={"limit": 2}).json()
    assert "page" not in page and "page_size" not in page
