"""Stall detector and rule engine costs (no network).

The design promise: a tick costs in proportion to the deadlines due, not to the open cases.
This prints the cost of popping 100 due deadlines from heaps holding 1k, 10k and 100k open cases.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from services.processor.deadlines import DeadlineHeap
from services.processor.domain.engine import step
from services.processor.domain.policy import DEFAULT_POLICY_FILE, load_policy
from shared.events import decode, encode, new_event
from shared.events.case import CaseRegistered, ServicePlanned, SessionRecorded


def _line(name: str, value: float, unit: str, extra: str = "") -> None:
    print(f"{name:48} {value:>12,.1f} {unit:10} {extra}")


def bench_tick() -> None:
    now = datetime.now(UTC)
    due_count = 100
    for open_cases in (1_000, 10_000, 100_000):
        heap = DeadlineHeap()
        for i in range(open_cases):
            heap.schedule(f"cs_{i}", now + timedelta(days=1 + i % 90), i % 6)
        for i in range(due_count):
            heap.schedule(f"due_{i}", now - timedelta(seconds=i), i % 6)
        t0 = time.perf_counter()
        due = heap.pop_due(now)
        empty = heap.pop_due(now)
        elapsed = time.perf_counter() - t0
        assert len(due) == due_count and not empty
        _line(f"tick: pop {due_count} due of {open_cases:,} open cases", elapsed * 1e6, "µs")


def bench_rules(n: int = 5000) -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    now = datetime.now(UTC)
    events = []
    for i in range(n):
        case_id = f"cs_{i}"
        events.append(
            [
                decode(encode(new_event(p)))
                for p in (
                    CaseRegistered(case_id=case_id, org_id="org-1", advocate_id="adv-1", registered_at=now),
                    ServicePlanned(
                        case_id=case_id,
                        service_id="sv1",
                        spl_type="SocialCare",
                        service_kind="psychosocial",
                        provider_org_id="prov-1",
                        first_due_at=now + timedelta(days=7),
                        interval_days=14,
                        sessions_planned=6,
                        planned_at=now,
                    ),
                    SessionRecorded(
                        case_id=case_id,
                        service_id="sv1",
                        session_id="ss1",
                        service_kind="psychosocial",
                        outcome="attended",
                        occurred_at=now,
                        recorded_at=now,
                    ),
                )
            ]
        )
    t0 = time.perf_counter()
    count = 0
    for case_events in events:
        state = None
        for ev in case_events:
            state = step(state, ev, now, policy).state
            count += 1
    elapsed = time.perf_counter() - t0
    _line("rules: fold + evaluate + reconcile", count / elapsed, "events/s", f"{count} events, {n} cases")


def run() -> None:
    bench_tick()
    bench_rules()


if __name__ == "__main__":
    run()
