"""The inbox read window by window on the real database: pages in exact newest-first order across
sparse and dense stretches of time, filters and both scopes, every alert once."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.alerts.domain.page_cursor import Position
from services.alerts.store.alert_repository import AlertRepository
from tests.integration.alerts_service.conftest import repository

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def repo(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[AlertRepository]:
    with repository(stack_env, db_name("alerts_pages")) as r:
        yield r


def store(repo: AlertRepository, advocate: str, org: str, ages: list[timedelta]) -> list[dict[str, Any]]:
    docs = [
        {
            "_id": f"al_{uuid.uuid4().hex[:12]}",
            "case_id": f"case-{i % 3}-{advocate}",
            "rule": "service.overdue",
            "severity": "high",
            "status": "open" if i % 2 else "resolved",
            "advocate_id": advocate,
            "org_id": org,
            "raised_at": NOW - age,
        }
        for i, age in enumerate(ages)
    ]
    repo.coll.insert_many(docs)
    return docs


def walk(repo: AlertRepository, scope: dict[str, Any], filters: dict[str, Any], limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(200):
        docs, more, _ = repo.page(scope, filters, limit, after, now=NOW)
        seen += [d["_id"] for d in docs]
        if not more:
            return seen
        after = Position(docs[-1]["raised_at"], docs[-1]["_id"])
    raise AssertionError("the pages never ended")


def newest_first(docs: list[dict[str, Any]]) -> list[str]:
    return [d["_id"] for d in sorted(docs, key=lambda d: (d["raised_at"], d["_id"]), reverse=True)]


def test_pages_follow_the_order_across_sparse_and_dense_time(repo: AlertRepository) -> None:
    adv, org = f"adv-{uuid.uuid4().hex[:6]}", f"org-{uuid.uuid4().hex[:6]}"
    ages = [timedelta(seconds=-30), timedelta(minutes=1), timedelta(hours=3), timedelta(days=40)]
    ages += [timedelta(days=3 * 365), timedelta(days=365 * 120)]  # years apart, down to the 1900s
    ages += [timedelta(hours=5)] * 40  # a burst: the same instant, the id decides (more than a read)
    ages += [timedelta(hours=6, seconds=i) for i in range(25)]  # a dense stretch
    docs = store(repo, adv, org, ages)
    for limit in (1, 2, 7, 50):
        assert walk(repo, {"advocate_id": adv}, {}, limit) == newest_first(docs), limit
    opened = [d for d in docs if d["status"] == "open"]
    assert walk(repo, {"advocate_id": adv}, {"status": "open"}, 3) == newest_first(opened)
    case = [d for d in docs if d["case_id"] == f"case-1-{adv}"]
    assert walk(repo, {"advocate_id": adv}, {"case_id": f"case-1-{adv}"}, 2) == newest_first(case)
    # a supervisor of the organisation sees the same list; an advocate-and-supervisor sees it once
    assert walk(repo, {"org_id": org}, {}, 4) == newest_first(docs)
    both = {"$or": [{"advocate_id": adv}, {"org_id": org}]}
    assert walk(repo, both, {}, 5) == newest_first(docs)
    assert walk(repo, {"advocate_id": "nobody-" + adv}, {}, 5) == []
    assert walk(repo, {"org_id": "other-" + org}, {"case_id": f"case-1-{adv}"}, 5) == []
