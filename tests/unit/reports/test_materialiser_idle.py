"""The reports materialiser idles on one indexed probe ("is any case dirty?") with a backoff and no lease;
a case folded in this process wakes it, and work takes the lease and folds as before (mongomock)."""

from __future__ import annotations

from typing import Any

import mongomock

from services.reports.domain.facts import CaseFacts
from services.reports.service.projector import Materialiser
from services.reports.store.readmodel import ensure_indexes
from tests.support import Counting


def test_idle_costs_one_probe_per_pass_backing_off_and_a_fold_here_wakes_it() -> None:
    db: Any = mongomock.MongoClient(tz_aware=True)["reports_idle"]
    ensure_indexes(db)
    m = Materialiser(db, period=2.0, batch=100, lease_seconds=15.0, gauges_every=300.0, idle_period=16.0)
    assert m.step() == 2.0  # the first pass looks at everything (and counts the gauges)
    facts, leases = Counting(m.facts.col), Counting(m.lease.col)
    m.facts.col, m.lease.col = facts, leases  # type: ignore[assignment]
    assert [m.step() for _ in range(5)] == [2.0, 4.0, 8.0, 16.0, 16.0]
    assert facts.calls == ["find_one"] * 5 and leases.calls == []
    m.notify()  # the projector stored a case here
    assert m.step() == 2.0
    assert leases.calls == ["find_one_and_update"]  # work: the lease, then the pass
    assert m.step() == 2.0 and m.step() == 4.0  # back to idle


def test_a_dirty_case_written_elsewhere_is_found_by_the_probe_and_taken_to_work() -> None:
    db: Any = mongomock.MongoClient(tz_aware=True)["reports_idle2"]
    ensure_indexes(db)
    m = Materialiser(db, period=2.0, batch=100, lease_seconds=15.0, gauges_every=300.0)
    m.step()
    leases = Counting(m.lease.col)
    m.lease.col = leases  # type: ignore[assignment]
    m.step()
    assert leases.calls == []
    m.facts.save(CaseFacts(case_id="c1"), 0, None)  # folded by another process: nobody notified this one
    m.step()
    assert leases.calls == ["find_one_and_update"]  # the lease, then the pass (folding: tests/integration/reports)


def test_a_busy_materialiser_keeps_its_period_however_many_cases_are_folded() -> None:
    db: Any = mongomock.MongoClient(tz_aware=True)["reports_idle3"]
    ensure_indexes(db)
    m = Materialiser(db, period=2.0, batch=100, lease_seconds=15.0, gauges_every=300.0)
    m.step()  # a pass with work (the first): the next in a period
    m._wake.clear()
    for _ in range(50):
        m.notify()  # the projector folding a backlog
    assert not m._wake.is_set()  # not a pass per case
    m.step()  # the pass at the period takes what gathered
    m.step()  # idle now
    m.notify()
    assert m._wake.is_set()  # idle: a fold here is materialised at once
