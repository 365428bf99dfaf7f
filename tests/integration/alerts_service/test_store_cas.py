"""Conditional updates on the real database: concurrent workers never double-ingest, double-escalate,
double-acknowledge or take the same delivery attempt twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.escalation import Escalator
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import JobRepository
from shared.events.alerts import AlertRaised
from tests.integration.alerts_service.conftest import repository, write_policy
from tests.support import alert_raised

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def repo(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[AlertRepository]:
    with repository(stack_env, db_name("alerts_store")) as r:
        yield r


def raised(severity: str = "critical", minutes_ago: float = 10) -> AlertRaised:
    return alert_raised(
        org="org-cas",
        advocate="adv-cas",
        severity=severity,
        summary="session overdue",
        raised_at=datetime.now(UTC) - timedelta(minutes=minutes_ago),
    )


def race(n: int, fn: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_ingestion_stores_one_alert(repo: AlertRepository) -> None:
    p = raised()
    now = datetime.now(UTC)
    results = race(4, lambda: repo.ingest_raised(p, str(uuid.uuid4()), now))
    assert results.count(True) == 1
    assert repo.coll.count_documents({"_id": p.alert_id}) == 1


def test_two_escalators_take_each_level_once(repo: AlertRepository, tmp_path: Path) -> None:
    p = raised(minutes_ago=10)
    repo.ingest_raised(p, str(uuid.uuid4()), datetime.now(UTC))
    settings = AlertsSettings(escalation_max_level=1)
    changes: list[tuple[str, str]] = []
    policy = EscalationPolicy(write_policy(tmp_path / "policy.yaml", {"critical": "15min"}))

    def escalator() -> Escalator:
        return Escalator(
            settings, repo, policy, on_change=lambda c, d: changes.append((c, d["_id"])), on_outbox=lambda: None
        )

    workers = [escalator(), escalator()]
    alert = repo.get(p.alert_id)
    assert alert is not None
    now = datetime.now(UTC)
    # not yet due at 10 minutes: a tick escalates nothing for this alert
    assert [e for e in workers[0].tick() if e.alert["_id"] == p.alert_id] == []
    later = now + timedelta(minutes=6)
    results = race(2, lambda: workers.pop().escalate(alert, 1, later))
    assert sum(r is not None for r in results) == 1
    stored = repo.coll.find_one({"_id": p.alert_id})
    assert stored is not None and stored["escalation_level"] == 1
    assert len([e for e in stored["outbox"] if '"centinela.alert.escalated"' in e["value"]]) == 1
    # once at level 1 with max level 1, nothing is due any more
    assert all(d["_id"] != p.alert_id for d in repo.due_for_escalation("critical", 0, later))
    assert changes.count(("escalated", p.alert_id)) == 1


def test_acknowledged_alert_is_never_escalated(repo: AlertRepository) -> None:
    p = raised(minutes_ago=60)
    now = datetime.now(UTC)
    repo.ingest_raised(p, str(uuid.uuid4()), now)
    after = repo.transition(
        p.alert_id, ("open", "snoozed"), {"status": "acknowledged"}, {"at": now, "action": "acknowledged"}, []
    )
    assert after is not None and "outbox" not in after
    assert repo.escalate(p.alert_id, 1, now, []) is None
    assert all(d["_id"] != p.alert_id for d in repo.due_for_escalation("critical", 0, now))


def test_concurrent_acknowledgements_apply_once(repo: AlertRepository) -> None:
    """Racing acknowledgements: one conditional update matches, the others find the alert acknowledged."""
    for _ in range(5):
        p = raised()
        repo.ingest_raised(p, str(uuid.uuid4()), datetime.now(UTC))

        def ack(p: AlertRaised = p) -> str:
            now = datetime.now(UTC)
            after = repo.transition(
                p.alert_id,
                ("open", "snoozed"),
                {"status": "acknowledged"},
                {"at": now, "action": "acknowledged"},
                [{"id": str(uuid.uuid4()), "topic": "alerts", "key": p.case_id, "value": "{}", "created_at": now}],
            )
            return "applied" if after is not None else "not-allowed"

        results = race(4, ack)
        assert results.count("applied") == 1, results
        stored = repo.coll.find_one({"_id": p.alert_id})
        assert stored is not None
        assert len(stored["outbox"]) == 1 and len(stored["history"]) == 2 and stored["version"] == 1


def test_acknowledge_racing_escalation_never_escalates_an_acknowledged_alert(repo: AlertRepository) -> None:
    for _ in range(5):
        p = raised(minutes_ago=60)
        now = datetime.now(UTC)
        repo.ingest_raised(p, str(uuid.uuid4()), now)

        def ack(p: AlertRaised = p, now: datetime = now) -> tuple[str, Any]:
            history = {"at": now, "action": "acknowledged"}
            return "ack", repo.transition(p.alert_id, ("open", "snoozed"), {"status": "acknowledged"}, history, [])

        def esc(p: AlertRaised = p, now: datetime = now) -> tuple[str, Any]:
            return "esc", repo.escalate(p.alert_id, 1, now, [])

        calls = [ack, esc]
        results = dict(race(2, lambda: calls.pop()()))
        stored = repo.coll.find_one({"_id": p.alert_id})
        assert stored is not None and results["ack"] is not None and stored["status"] == "acknowledged"
        applied = [h["action"] for h in stored["history"][1:]]
        # the escalation either came first or found the alert acknowledged: never escalated after the ack
        assert applied == (["escalated", "acknowledged"] if results["esc"] is not None else ["acknowledged"])
        assert stored["version"] == len(applied)


@pytest.fixture
def jobs(repo: AlertRepository) -> JobRepository:
    return JobRepository()


def test_racing_workers_take_each_job_once(jobs: JobRepository) -> None:
    now = datetime.now(UTC)
    ids = [f"job-{uuid.uuid4().hex[:10]}" for _ in range(6)]
    for job_id in ids:
        assert jobs.enqueue(job_id, "email", {"to": "x@y.test"}, now - timedelta(seconds=1))
    lease = timedelta(seconds=60)

    def take_all() -> list[str]:
        taken = []
        while (job := jobs.claim(now, lease)) is not None:
            taken.append(job["_id"])
        return taken

    results = race(4, take_all)
    taken = [j for r in results for j in r if j in ids]
    assert sorted(taken) == sorted(ids)  # each of ours exactly once, none twice
    for job_id in ids:
        stored = jobs.get(job_id)
        assert stored is not None and stored["status"] == "sending" and stored["attempts"] == 1


def test_expired_lease_is_taken_over_and_the_late_outcome_ignored(jobs: JobRepository) -> None:
    now = datetime.now(UTC)
    job_id = f"job-{uuid.uuid4().hex[:10]}"
    jobs.enqueue(job_id, "webhook", {}, now - timedelta(days=3650))  # sorts first among due jobs
    lease = timedelta(seconds=30)
    first = jobs.claim(now, lease)
    assert first is not None and first["_id"] == job_id and first["attempts"] == 1
    assert all(j["_id"] != job_id for j in iter(lambda: jobs.claim(now, lease), None))  # leased: nobody else
    later = now + lease + timedelta(seconds=1)
    second = None
    while (job := jobs.claim(later, lease)) is not None:
        if job["_id"] == job_id:
            second = job
            break
    assert second is not None and second["attempts"] == 2
    assert jobs.retry(job_id, first["attempts"], later, "late") is False  # the dead worker's outcome
    assert jobs.finish(job_id, second["attempts"], "done", later) is True
    stored = jobs.get(job_id)
    assert stored is not None and stored["status"] == "done" and stored["attempts"] == 2
