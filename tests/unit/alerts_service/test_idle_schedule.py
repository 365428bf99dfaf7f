"""The alerts service's loops idle without polling: the escalation loop sleeps until its schedule says
something is due (moved earlier by changes made in this process, re-read at the rescan, at once on a
new policy), the delivery worker until the next job is due. Fake clocks, repositories and schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.alerts import metrics as m
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.delivery import DeliveryWorker
from services.alerts.service.escalation import Escalator
from services.alerts.settings import AlertsSettings
from tests.unit.alerts_service.test_policy_and_signing import Clock, write_policy

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)
SETTINGS = AlertsSettings(escalation_max_level=2, escalation_tick_seconds=5, escalation_rescan_seconds=60)


class Now:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> datetime:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += timedelta(seconds=seconds)


class Repo:
    """What a tick reads and writes; counts the due queries (a tick's database work)."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.due_queries = 0
        self.during_tick: list[Any] = []  # callables run inside the first schedule read (a change racing the tick)

    def wake_snoozed(self, now: datetime) -> list[dict[str, Any]]:
        return []

    def due_for_escalation(self, severity: str, level: int, cutoff: datetime) -> list[dict[str, Any]]:
        self.due_queries += 1
        return [
            a
            for a in self.alerts
            if (a["status"], a["severity"], a["escalation_level"]) == ("open", severity, level)
            and a["raised_at"] <= cutoff
        ]

    def escalate(self, alert_id: str, level: int, now: datetime, events: Any, notify: Any = None) -> Any:
        for a in self.alerts:
            if a["_id"] == alert_id and a["escalation_level"] == level - 1:
                a["escalation_level"] = level
                return a
        return None

    def open_counts(self) -> dict[str, int]:
        return {}


class Schedule:
    """EscalationSchedule over the fake repository's alerts (counts the per-level lookups)."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self.reads = 0

    def oldest_open(self, severity: str, level: int, cutoff: datetime) -> datetime | None:
        self.reads += 1
        while self.repo.during_tick:
            self.repo.during_tick.pop()()
        times = [
            a["raised_at"]
            for a in self.repo.alerts
            if (a["status"], a["severity"], a["escalation_level"]) == ("open", severity, level)
            and a["raised_at"] <= cutoff
        ]
        return min(times, default=None)

    def next_snooze_end(self, horizon: datetime) -> datetime | None:
        ends = [a["snoozed_until"] for a in self.repo.alerts if a["status"] == "snoozed"]
        return min([e for e in ends if e <= horizon], default=None)

    def oldest_unqueued(self, horizon: datetime) -> datetime | None:
        return None


def alert(alert_id: str, raised_at: datetime, severity: str = "critical", level: int = 0) -> dict[str, Any]:
    return {"_id": alert_id, "case_id": "c", "rule": "r", "episode": 1, "severity": severity,
            "status": "open", "escalation_level": level, "raised_at": raised_at}  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Any:
    class World:
        now = Now()
        mono = Clock()
        repo = Repo()
        path = write_policy(tmp_path / "policy.yaml", {"critical": "10min", "high": "1h"})
        policy = EscalationPolicy(path, monotonic=mono)
        schedule = Schedule(repo)
        changes: list[tuple[str, str]] = []
        escalator = Escalator(
            SETTINGS, repo, policy, clock=now, schedule=schedule,  # type: ignore[arg-type]
            on_change=lambda c, d: World.changes.append((c, d["_id"])), on_outbox=lambda: None,
        )  # fmt: skip

    return World


def test_an_idle_loop_reads_the_schedule_once_per_rescan_and_only_wakes_to_look_at_the_clock(world: Any) -> None:
    esc, repo, schedule = world.escalator, world.repo, world.schedule
    assert esc.step() == 5  # first pass: a tick, then a wait of one tick period (the policy file)
    assert schedule.reads == 4 and esc.due == T0 + timedelta(seconds=60)  # nothing open: the rescan
    assert repo.due_queries == 0  # nothing due: one schedule lookup per severity and level, no due query
    for _ in range(11):
        world.now.advance(5)
        assert esc.step() <= 5
    assert schedule.reads == 4  # 55 s of waking without a database query
    assert m.escalation_last_tick._value.get() == world.now.t.timestamp()  # the liveness gauge still moves
    world.now.advance(5)
    esc.step()
    assert schedule.reads == 8 and repo.due_queries == 0  # the rescan


def test_the_loop_sleeps_until_the_oldest_open_alert_falls_due_and_escalates_it_then(world: Any) -> None:
    esc, repo = world.escalator, world.repo
    repo.alerts.append(alert("a1", T0 - timedelta(minutes=9, seconds=58)))  # due at T0 + 2 s
    esc.step()
    assert esc.due == T0 + timedelta(seconds=2)
    world.now.advance(1)
    assert esc.step() == 1.0 and world.changes == []
    world.now.advance(1)
    esc.step()
    assert world.changes == [("escalated", "a1")]  # at its due time, not a tick later
    # level 2 falls due in ten minutes: the rescan, a minute after this tick, comes first
    assert esc.due == T0 + timedelta(seconds=62)


def test_a_change_in_this_process_moves_the_wake_up_earlier(world: Any) -> None:
    esc = world.escalator
    esc.step()
    assert esc.due == T0 + timedelta(seconds=60)
    esc._wake.clear()
    esc.consider(alert("late", T0, severity="high"))  # due in an hour: the rescan comes first
    assert esc.due == T0 + timedelta(seconds=60) and not esc._wake.is_set()
    esc.consider(alert("soon", T0 - timedelta(minutes=9, seconds=30)))  # due in 30 s
    assert esc.due == T0 + timedelta(seconds=30) and esc._wake.is_set()
    snoozed = {**alert("z", T0), "status": "snoozed", "snoozed_until": T0 + timedelta(seconds=12)}
    esc.consider(snoozed)
    assert esc.due == T0 + timedelta(seconds=12)
    for ignored in (
        {**alert("ack", T0 - timedelta(hours=1)), "status": "acknowledged"},
        alert("top", T0 - timedelta(hours=1), level=2),  # at the highest level already
        alert("never", T0 - timedelta(hours=1), severity="low"),  # no time for low in this policy
    ):
        esc.consider(ignored)
    assert esc.due == T0 + timedelta(seconds=12)


def test_a_change_racing_a_tick_is_not_lost(world: Any) -> None:
    esc, repo = world.escalator, world.repo
    repo.during_tick.append(lambda: esc.consider(alert("racer", T0 - timedelta(minutes=9, seconds=50))))
    esc.step()  # the racer is not in the schedule's reads (stored after them), only in consider()
    repo.alerts.clear()
    assert esc.due == T0 + timedelta(seconds=10)


def test_a_new_policy_is_acted_on_at_the_next_wake_without_waiting_for_the_schedule(world: Any) -> None:
    esc, repo = world.escalator, world.repo
    repo.alerts.append(alert("a1", T0 - timedelta(minutes=9, seconds=30)))  # due in 30 s under 10min
    esc.step()
    assert esc.due == T0 + timedelta(seconds=30)
    write_policy(world.path, {"critical": "9min"})
    world.mono.t += 1.1
    world.now.advance(5)
    esc.step()
    assert world.changes == [("escalated", "a1")]


def test_the_open_alert_gauges_are_counted_after_a_local_change_not_on_every_pass(world: Any) -> None:
    esc, repo = world.escalator, world.repo
    counted: list[datetime] = []

    def open_counts() -> dict[str, int]:
        counted.append(world.now.t)
        return {"critical": 1}

    repo.open_counts = open_counts
    esc.step()
    assert counted == [T0]  # the first pass counts
    for _ in range(30):  # 150 s without a change here: rescans, but no counting
        world.now.advance(5)
        esc.step()
    assert counted == [T0]
    esc.consider({**alert("ack", T0), "status": "acknowledged"})
    world.now.advance(5)
    esc.step()  # a wake, not a pass: the counts still come
    assert counted == [T0, world.now.t] and m.open_alerts.labels("critical")._value.get() == 1


def test_a_failed_tick_is_retried_a_tick_period_later(world: Any) -> None:
    esc = world.escalator

    def down(*args: Any) -> list[dict[str, Any]]:
        raise ConnectionError("database away")

    world.schedule.next_snooze_end = down
    assert esc.step() == 5 and esc.due == T0 + timedelta(seconds=5)


class Jobs:
    def claim(self, now: datetime, lease: timedelta) -> None:
        return None


def worker(next_due: Any, now: Now) -> DeliveryWorker:
    settings = AlertsSettings(notify_idle_poll_seconds=30, smtp_host="")
    return DeliveryWorker(settings, Jobs(), None, None, clock=now, next_due=next_due)  # type: ignore[arg-type]


def test_the_idle_delivery_worker_sleeps_until_the_next_job_is_due_at_most_its_cap() -> None:
    now, asked = Now(), []

    def due_in(seconds: float | None) -> Any:
        def next_due(horizon: datetime) -> datetime | None:
            asked.append(horizon)
            return None if seconds is None else now.t + timedelta(seconds=seconds)

        return next_due

    assert worker(due_in(None), now).step() == 30  # nothing queued: the cap
    assert asked == [T0 + timedelta(seconds=30)]  # asked only about the cap's horizon
    assert worker(due_in(7), now).step() == 7  # a retry in 7 s
    assert worker(due_in(-3), now).step() == 0.05  # queued meanwhile: claimed (almost) at once, never a spin


def test_a_failed_delivery_pass_waits_the_poll_interval() -> None:
    def broken(horizon: datetime) -> datetime | None:
        raise ConnectionError("database away")

    assert worker(broken, Now()).step() == AlertsSettings().notify_poll_seconds


def test_an_alert_that_cannot_be_taken_is_looked_at_again_a_second_later_not_in_a_loop(world: Any) -> None:
    esc, repo = world.escalator, world.repo
    repo.alerts.append(alert("stuck", T0 - timedelta(minutes=11)))
    repo.escalate = lambda *args, **kwargs: None  # another worker keeps winning it, say
    assert esc.step() == 1.0
    assert esc.due == T0 + timedelta(seconds=1) and repo.due_queries == 1


def test_a_snooze_that_ends_wakes_the_alert_at_its_end(world: Any) -> None:
    esc, repo = world.escalator, world.repo
    woken: list[datetime] = []
    repo.alerts.append({**alert("z", T0), "status": "snoozed", "snoozed_until": T0 + timedelta(seconds=20)})

    def wake_snoozed(now: datetime) -> list[dict[str, Any]]:
        woken.append(now)
        for a in repo.alerts:
            if a["status"] == "snoozed" and a["snoozed_until"] <= now:
                a["status"] = "open"
        return []

    repo.wake_snoozed = wake_snoozed
    esc.step()
    assert esc.due == T0 + timedelta(seconds=20) and woken == []
    world.now.advance(20)
    esc.step()
    assert woken == [T0 + timedelta(seconds=20)]
