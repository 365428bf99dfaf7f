"""Takeover under load: SIGKILL one of two processor workers, or the only one, mid-run; no alert lost,
none raised twice, every deadline alerted in time.

The load (issue 10 item 1, at reduced scale): ``CASES`` cases registered at an even pace over
``SPREAD`` seconds, each with a recurring psychosocial service whose first session is due
``DUE_IN`` seconds after registration and becomes overdue ``OVERDUE_AFTER`` later (a seconds-scale
policy file), plus a risk flag. Halfway through, a worker is SIGKILLed.

What is required, on the prefixed ``alerts`` topic, for this test's cases only:

* exactly one alert per (case, rule, subject, episode): the distinct ``alert_id``s of ``alert.raised``
  records equal the expected set — ``risk.revictimisation`` (event-driven, case-level) and
  ``service.overdue`` (wall-clock, from the deadline heap, per service: subject ``service:s1``)
  episode 1 for every case — nothing missing, nothing extra;
  a redelivered fact (at-least-once) must be the *same* fact (alert id, CloudEvent id, episode);
* the dead worker's partitions move to the survivor within the session timeout + 10 s (a restarted
  only worker too, its start-up included: ``RESTART_START``);
* every ``service.overdue`` is visible (record timestamp) within ``LATE`` seconds of
  ``max(deadline, when the case's partition became owned again)``; for a case that never changed
  hands, within ``LATE`` of its deadline unless the deadline fell in the rebalance window.

At these sizes faust-streaming's stock consumer lost alerts (11 of 2,400 in one run, both
event-driven and wall-clock ones: input records skipped around the rebalance and committed over);
services/processor/transport.py and the deadline heap's re-send (deadlines.py) are the fix.
Sizes can be changed with ``CENTINELA_TEST_TAKEOVER_CASES`` / ``..._SPREAD`` (and ``..._SESSION_TIMEOUT``).
"""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from services.processor.domain.engine import alert_id
from shared.events import case as ce
from shared.events import new_event
from tests.integration.alerts_processor import helpers
from tests.integration.alerts_processor.helpers import alert_events, new_case, now, producer, seconds_policy
from tests.integration.alerts_processor.helpers import start_processor as start
from tests.support import Proc, wait_for

pytestmark = pytest.mark.integration

# Enough load that the survivor is still behind when the rebalance comes (with faust's stock consumer
# this lost alerts); sized to finish in ~2 minutes per test on the 2-core development machine.
CASES = int(os.environ.get("CENTINELA_TEST_TAKEOVER_CASES", "1200"))
SPREAD = float(os.environ.get("CENTINELA_TEST_TAKEOVER_SPREAD", "30"))
RESTART_CASES = int(os.environ.get("CENTINELA_TEST_RESTART_CASES", "600"))
RESTART_SPREAD = float(os.environ.get("CENTINELA_TEST_RESTART_SPREAD", "20"))
PARTITIONS = 6
DUE_IN = 28.0
OVERDUE_AFTER = 2.0
# The target for a restarted only worker too: the new process starts while the dead member's
# session runs out, so its start-up (measured 12-15 s after the kill) fits in the same bound.
RESTART_START = 10.0
SESSION_TIMEOUT = float(os.environ.get("CENTINELA_TEST_TAKEOVER_SESSION_TIMEOUT", "10"))
LATE = 60.0
# rule -> the subject of its alert for the one service of each case (None: a case-level rule)
RULES: dict[str, str | None] = {"risk.revictimisation": None, "service.overdue": "service:s1"}


@dataclass
class Run:
    env: dict[str, str]
    cases: dict[str, datetime] = field(default_factory=dict)  # case id -> service.overdue deadline
    killed_at: float = 0.0
    # partitions -> wall-clock time from which some live worker owned them again
    owned_again_at: dict[int, float] = field(default_factory=dict)
    moved: set[int] = field(default_factory=set)

    def expected(self) -> set[str]:
        return set(self.names())

    def kill(self, proc: Proc) -> None:
        self.killed_at = time.time()
        proc.stop(sig=signal.SIGKILL)

    def owned_again(self, moved: set[int], at: float) -> None:
        """``moved`` partitions changed hands; from ``at`` on a live worker owns every partition."""
        self.moved = moved
        self.owned_again_at = dict.fromkeys(range(PARTITIONS), at)

    def names(self) -> dict[str, str]:
        """Expected alert id -> case/rule[/subject], to name what is missing."""
        return {
            alert_id(c, r, subject, 1): "/".join(x for x in (c, r, subject) if x)
            for c in self.cases
            for r, subject in RULES.items()
        }


@pytest.fixture
def run_env(stack_env: dict[str, str]) -> dict[str, str]:
    # its own topic prefix (own consumer group and topics) and the production partition count
    from tests.support import isolated_env

    return isolated_env({**stack_env, "CENTINELA_PARTITIONS": str(PARTITIONS)})


def metric(proc: Proc, name: str) -> float | None:
    for line in httpx.get(proc.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def counted(proc: Proc, name: str) -> float:
    """Sum of a counter over its labels (0 when the process cannot be asked)."""
    try:
        text = httpx.get(proc.url + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + "{"))


def report_recovery(proc: Proc) -> None:
    """What the takeover fix did on this worker (printed with the verdict: evidence, not an assertion)."""
    print(
        f"{proc.name}: records read again after a hole "
        f"{counted(proc, 'centinela_alerts_input_holes_total'):g}, records faust skipped in a rebalance "
        f"(not committed, read again) {counted(proc, 'centinela_alerts_input_unfinished_total'):g}, "
        f"partitions sought back after cleared buffers {counted(proc, 'centinela_alerts_input_reseeks_total'):g}, "
        f"ticks re-sent {metric(proc, 'centinela_alerts_deadline_ticks_retried_total') or 0:g}"
    )


def owned(proc: Proc) -> int:
    try:
        return int(metric(proc, "centinela_alerts_partitions_assigned") or 0)
    except httpx.HTTPError:
        return 0


def case_events(case_id: str, t: datetime) -> list[Any]:
    return [
        new_event(helpers.registered(case_id, "org-k", "adv-k", t)),
        new_event(helpers.service_planned(case_id, t + timedelta(seconds=DUE_IN), interval_days=7, planned_at=t)),
        new_event(ce.RiskFlagged(case_id=case_id, flag_id="f1", kind="other", severity="medium", raised_at=t)),
    ]


def register(run: Run, count: int, spread: float, at_half: Callable[[], None]) -> None:
    """``count`` cases at an even pace over ``spread`` seconds; ``at_half`` runs halfway through."""
    pub = producer(run.env)
    start_at = time.monotonic()
    try:
        for i in range(count):
            if i == count // 2:
                at_half()
            # pacing the load generator, not synchronising with the system under test
            delay = start_at + i * spread / count - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            case_id, t = new_case(), now()
            for event in case_events(case_id, t):
                pub.publish("case-events", event)
            run.cases[case_id] = t + timedelta(seconds=DUE_IN + OVERDUE_AFTER)
        pub.flush(timeout=30)
    finally:
        pub.close()


def collect(run: Run, timeout: float) -> list[Any]:
    """Every alert record until all expected alerts are there (or ``timeout``: the verdict names what is missing)."""
    expected = run.expected()
    seen: set[str] = set()
    records: list[Any] = []
    deadline = time.monotonic() + timeout
    # Partitions assigned by hand, no consumer group: on a loaded machine a group member of this
    # test process lost its membership (heartbeats starved) and read nothing for the whole timeout,
    # which failed the verdict with every alert on the topic.
    topic = run.env.get("CENTINELA_TOPIC_PREFIX", "") + "alerts"
    c = KafkaConsumer(bootstrap_servers=run.env["CENTINELA_KAFKA_BOOTSTRAP"], enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        c.assign(partitions)
        c.seek_to_beginning(*partitions)
        while time.monotonic() < deadline and not expected <= seen:
            for recs in c.poll(timeout_ms=500).values():
                records.extend(recs)
                seen.update(e.payload.alert_id for e in alert_events(recs) if e.type.endswith(".raised"))  # type: ignore[attr-defined]
    finally:
        c.close()
    return records


def verdict(run: Run, records: list[Any]) -> str:
    raised = [
        (r, e) for r in records for e in alert_events([r]) if e.case_id in run.cases and e.type.endswith(".raised")
    ]
    deliveries: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for _, e in raised:
        deliveries[e.payload.alert_id].append((e.id, e.payload.episode))  # type: ignore[attr-defined]
    expected = run.expected()
    missing = expected - set(deliveries)
    extra = set(deliveries) - expected
    names = run.names()
    assert not missing, f"{len(missing)} alerts lost: " + ", ".join(sorted(names[a] for a in missing)[:20])
    assert not extra, f"{len(extra)} alerts that should not exist (a second alert for one condition)"
    for aid, copies in deliveries.items():
        assert len(set(copies)) == 1, f"{aid} delivered as different facts: {copies}"

    rebalance_end = max(run.owned_again_at.values(), default=run.killed_at)
    late: list[str] = []
    lat_moved: list[float] = []
    lat_kept: list[float] = []
    first: dict[str, tuple[float, int]] = {}
    for r, e in raised:
        if e.payload.rule == "service.overdue":  # type: ignore[attr-defined]
            ts = r.timestamp / 1000
            if e.case_id not in first or ts < first[e.case_id][0]:
                first[e.case_id] = (ts, r.partition)
    for case_id, (ts, partition) in first.items():
        deadline = run.cases[case_id].timestamp()
        if partition in run.moved:
            bound = max(deadline, run.owned_again_at[partition]) + LATE
            lat_moved.append(ts - max(deadline, run.owned_again_at[partition]))
        else:
            in_window = run.killed_at - LATE <= deadline <= rebalance_end
            bound = (max(deadline, rebalance_end) if in_window else deadline) + LATE
            lat_kept.append(ts - deadline)
        if ts > bound:
            late.append(f"{case_id} p{partition} {ts - deadline:.1f}s after its deadline")
    duplicates = sum(len(c) - 1 for c in deliveries.values())

    def pct(xs: list[float], q: int) -> str:
        return f"{statistics.quantiles(xs, n=100)[q - 1]:.1f}s" if len(xs) >= 2 else "-"

    summary = (
        f"cases={len(run.cases)} expected={len(expected)} distinct={len(deliveries)} duplicates={duplicates} "
        f"moved partitions={sorted(run.moved)} "
        f"owned again after kill: {max((t - run.killed_at for t in run.owned_again_at.values()), default=0):.1f}s; "
        f"deadline->alert p50/p99 moved {pct(lat_moved, 50)}/{pct(lat_moved, 99)} (from max(deadline, move)), "
        f"kept {pct(lat_kept, 50)}/{pct(lat_kept, 99)}"
    )
    print(summary)
    assert not late, f"{len(late)} overdue alerts later than {LATE:.0f}s: " + "; ".join(late[:10]) + f" [{summary}]"
    return summary


def wait_owned(procs: list[Proc], total: int, timeout: float) -> float:
    """Wall-clock time at which the live workers own all ``total`` partitions again (after a rebalance)."""
    wait_for(lambda: sum(owned(p) for p in procs) == total, timeout=timeout, interval=0.25, what="partitions owned")
    return time.time()


def owned_partitions(proc: Proc) -> set[int]:
    """The case-topic partitions ``proc`` owns, from its per-partition lag series."""
    out = set()
    for line in httpx.get(proc.url + "/metrics", timeout=5).text.splitlines():
        if line.startswith("centinela_alerts_consumer_lag{") and 'topic="case-events"' in line:
            out.add(int(line.split('partition="', 1)[1].split('"', 1)[0]))
    return out


def worker(name: str, run: Run, log_dir: Path, policy: Path, procs: list[Proc], datadir: Path | None = None) -> Proc:
    proc = start(name, run.env, log_dir, policy, session_timeout=SESSION_TIMEOUT, datadir=datadir)
    procs.append(proc)
    return proc


def takeover(run: Run, cases: int, spread: float, kill: Callable[[], None], move_bound: float) -> None:
    """Register the load with ``kill`` started halfway in the background, then judge the alerts.

    ``move_bound``: seconds from the kill by which every partition must be owned again."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            kill()
        except BaseException as exc:  # re-raised by the test thread
            errors.append(exc)

    killer = threading.Thread(target=guarded)
    register(run, cases, spread, killer.start)
    killer.join(timeout=SESSION_TIMEOUT + 120)
    assert not killer.is_alive(), "the kill/restart step did not finish"
    assert not errors, errors
    moved_after = max(run.owned_again_at.values()) - run.killed_at
    assert moved_after <= move_bound, f"partitions owned again only {moved_after:.1f}s after the kill"
    verdict(run, collect(run, timeout=DUE_IN + OVERDUE_AFTER + LATE + 30))


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    return seconds_policy(tmp_path, service__overdue=f"{OVERDUE_AFTER:g}s")


@pytest.fixture
def run(run_env: dict[str, str]) -> Run:
    return Run(run_env)


def test_sigkill_one_of_two_workers_under_load(run: Run, policy: Path, log_dir: Path, procs: list[Proc]) -> None:
    a = worker("processor-kill-a", run, log_dir, policy, procs)
    b = worker("processor-kill-b", run, log_dir, policy, procs)
    try:
        wait_owned([a, b], PARTITIONS, timeout=90)
        assert 0 < owned(b) < PARTITIONS, "one worker owns everything: nothing would move"
        # the survivor-to-be follows the other worker's partitions (standby copies on its own disk)
        wait_for(lambda: metric(b, "centinela_alerts_standby_lag") == 0, timeout=60, what="b's standby copies")

        def kill_a() -> None:
            mine = owned_partitions(b)
            run.kill(a)
            moved_at = wait_owned([b], PARTITIONS, timeout=SESSION_TIMEOUT + 60)
            run.owned_again(set(range(PARTITIONS)) - mine, moved_at)

        try:
            takeover(run, CASES, SPREAD, kill_a, move_bound=SESSION_TIMEOUT + 10)
        finally:
            report_recovery(b)
        assert b.alive()
    finally:
        b.stop()


def test_sigkill_the_only_worker_and_restart_it(run: Run, policy: Path, log_dir: Path, procs: list[Proc]) -> None:
    only = worker("processor-only", run, log_dir, policy, procs)
    restarted: list[Proc] = []
    try:
        wait_owned([only], PARTITIONS, timeout=90)

        def kill_and_restart() -> None:
            run.kill(only)
            # the same disk, as a restarted container has: recovery reads only what the databases lack
            same_disk = log_dir / "processor-only-data"
            restarted.append(worker("processor-only-restarted", run, log_dir, policy, procs, same_disk))
            back_at = wait_owned(restarted, PARTITIONS, timeout=SESSION_TIMEOUT + 60)
            run.owned_again(set(range(PARTITIONS)), back_at)  # every partition changed hands (to the new process)

        # the new process must start (imports, faust, join) before the dead member's session expires
        try:
            takeover(run, RESTART_CASES, RESTART_SPREAD, kill_and_restart, move_bound=SESSION_TIMEOUT + RESTART_START)
        finally:
            if restarted:
                report_recovery(restarted[0])
        assert restarted[0].alive()
    finally:
        for proc in restarted:
            proc.stop()
