"""Two processor workers, one SIGKILLed mid-stream: no alert lost, none raised twice.

What is counted, on the prefixed ``alerts`` topic, for the cases of this test only:

* ``expected`` — the alert ids the input must produce: ``risk.revictimisation`` episode 1 for every
  case (event-driven) and ``service.overdue`` episode 1 for every case with a planned session
  (wall-clock, from the deadline heap — for cases whose deadline was pending on the killed worker
  this proves the survivor rebuilt its heap from the recovered table).
* ``distinct`` — the set of distinct ``alert_id`` values among ``centinela.alert.raised`` records.
  The test requires ``distinct == expected``: nothing missing, and no second alert (another
  episode or rule) for the same condition.
* deliveries — at-least-once means a raised fact may be delivered more than once when the worker
  dies between publishing it and committing its input; every duplicate must be the *same* fact:
  same alert id, same CloudEvent id, same episode. The number of such duplicates is reported,
  not limited.

It caught a faust-streaming 0.15 takeover bug (records of a partition with no committed offset,
fetched during the rebalance, were dropped and never re-read); services/processor/transport.py
is the fix.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from shared.events import case as ce
from shared.events import new_event
from shared.events.alerts import alert_id_for
from tests.integration.alerts_processor.helpers import alert_events, new_case, now, producer, seconds_policy
from tests.integration.alerts_processor.helpers import start_processor as start
from tests.support import Proc, consumer, drain, isolated_env

pytestmark = pytest.mark.integration

CASES = 60


@pytest.fixture(scope="module")
def kill_env(stack_env: dict[str, str]) -> dict[str, str]:
    # its own topic prefix: its own consumer group and topics, away from the other processor tests
    return isolated_env({**stack_env, "CENTINELA_PARTITIONS": "3"})


def collect(c: object, until: Callable[[list[object]], bool], timeout: float) -> list[object]:
    """Like tests.support.drain, but returns what it has at the deadline so the assertions can say what is missing."""
    records: list[object] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not until(records):
        for recs in c.poll(timeout_ms=300).values():  # type: ignore[attr-defined]
            records.extend(recs)
    return records


def publish_cases(p: object, case_ids: list[str]) -> set[str]:
    expected = set()
    for i, case_id in enumerate(case_ids):
        t = now()
        events = [
            new_event(ce.CaseRegistered(case_id=case_id, org_id="org-k", advocate_id="adv-k", registered_at=t)),
            new_event(ce.RiskFlagged(case_id=case_id, flag_id="f1", kind="other", severity="medium", raised_at=t)),
        ]
        expected.add(alert_id_for(case_id, "risk.revictimisation", 1))
        if i % 2 == 0:
            events.append(
                new_event(
                    ce.ServicePlanned(
                        case_id=case_id,
                        service_id="s1",
                        spl_type="Health",
                        service_kind="health_checkup",
                        provider_org_id="org-p",
                        first_due_at=t - timedelta(seconds=1),
                        sessions_planned=1,
                        planned_at=t,
                    )
                )
            )
            expected.add(alert_id_for(case_id, "service.overdue", 1))
        for e in events:
            p.publish("case-events", e)  # type: ignore[attr-defined]
    p.flush(timeout=30)  # type: ignore[attr-defined]
    return expected


def lost(missing: set[str], cases: list[str]) -> list[str]:
    by_id = {alert_id_for(c, r, 1): f"{c}/{r}" for c in cases for r in ("risk.revictimisation", "service.overdue")}
    return [by_id.get(a, a) for a in missing]


def test_sigkill_one_of_two_workers_loses_and_duplicates_no_alert(
    kill_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    policy = seconds_policy(tmp_path, service__overdue="2s")
    a = start("processor-kill-a", kill_env, log_dir, policy)
    procs.append(a)
    b = start("processor-kill-b", kill_env, log_dir, policy)
    procs.append(b)
    a.wait_ready("/readyz", timeout=90)

    cases = [new_case() for _ in range(CASES)]
    mine = set(cases)
    pub = producer(kill_env)
    try:
        with consumer(kill_env, "alerts") as c:
            expected = publish_cases(pub, cases[: CASES // 2])
            # mid-stream: some alerts are out, service deadlines of the first half are still pending
            seen = drain(c, lambda rs: len(rs) >= 10, timeout=90)
            a.stop(sig=signal.SIGKILL)
            assert not a.alive()
            raised_at_kill = len({e.payload.alert_id for e in alert_events(seen) if e.type.endswith(".raised")})  # type: ignore[attr-defined]
            expected |= publish_cases(pub, cases[CASES // 2 :])
            assert raised_at_kill < len(expected)

            def complete(rs: list[object]) -> bool:
                ids = {e.payload.alert_id for e in alert_events(seen + rs) if e.type.endswith(".raised")}  # type: ignore[attr-defined]
                return expected <= ids

            rest = collect(c, complete, timeout=150)
    finally:
        pub.close()

    raised = [e for e in alert_events(seen + rest) if e.case_id in mine and e.type.endswith(".raised")]
    deliveries: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for e in raised:
        deliveries[e.payload.alert_id].append((e.id, e.payload.episode))  # type: ignore[attr-defined]
    distinct = set(deliveries)
    missing = expected - distinct
    extra = distinct - expected
    assert not missing, f"{len(missing)} alerts lost: " + ", ".join(sorted(lost(missing, cases)))
    assert not extra, f"{len(extra)} alerts raised that should not exist (a second alert for a condition)"
    for alert_id, copies in deliveries.items():
        assert len(set(copies)) == 1, f"{alert_id} delivered as different facts: {copies}"
    duplicates = sum(len(c) - 1 for c in deliveries.values())
    print(f"expected={len(expected)} distinct={len(distinct)} duplicate deliveries={duplicates}")
    assert b.alive()
