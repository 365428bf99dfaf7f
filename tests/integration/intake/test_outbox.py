"""No lost events: a broker outage and a crash between the write and the publish.

The shared broker must not be stopped, so the outage is a process whose bootstrap points at a
dead port; each scenario has its own database so its relay lease is its own.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
from pymongo import MongoClient

from tests.integration.intake.conftest import Token, case_body, case_events, start_intake
from tests.support import Proc, free_port, wait_for


def write_cases(proc: Proc, token: Callable[..., str], n: int = 3) -> set[str]:
    headers = {"Authorization": f"Bearer {token('intake_officer')}"}
    ids = set()
    with httpx.Client(base_url=proc.url, headers=headers, timeout=15) as c:
        for _ in range(n):
            r = c.post("/v1/cases", json=case_body(uuid.uuid4().hex))
            assert r.status_code == 201, r.text
            case_id = r.json()["case_id"]
            r = c.post(f"/v1/cases/{case_id}/risk-flags", json={"kind": "runaway_missing", "severity": "high"})
            assert r.status_code == 201
            ids.add(case_id)
    return ids


def pending_ids(env: dict[str, str], db: str) -> list[str]:
    client: MongoClient = MongoClient(env["CENTINELA_MONGO_URI"])
    try:
        return [e["id"] for d in client[db]["cases"].find({}, {"outbox": 1}) for e in d.get("outbox") or []]
    finally:
        client.close()


def assert_delivered_exactly_once(env: dict[str, str], db: str, case_ids: set[str], expected: list[str]) -> None:
    wait_for(lambda: not pending_ids(env, db), timeout=90, what="outbox drained")
    events = case_events(env, case_ids, lambda evs: len(evs) >= len(expected), timeout=60)
    counts = Counter(e["id"] for e in events)
    assert set(counts) == set(expected)
    assert all(n == 1 for n in counts.values()), counts
    kinds = Counter(e["type"] for e in events)
    assert kinds == {"centinela.case.registered": len(case_ids), "centinela.risk.flagged": len(case_ids)}


def test_broker_outage_keeps_every_event(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc], token: Token
) -> None:
    db = db_name("intake_outage")
    dead = {**stack_env, "CENTINELA_MONGO_DB": db, "CENTINELA_KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}"}
    down = start_intake("intake-broker-down", dead, log_dir, procs, ready="/healthz")
    ids = write_cases(down, token)
    expected = pending_ids(stack_env, db)
    assert len(expected) == 2 * len(ids)  # everything written, nothing published
    down.stop()
    up = start_intake("intake-broker-up", {**stack_env, "CENTINELA_MONGO_DB": db}, log_dir, procs)
    assert_delivered_exactly_once(stack_env, db, ids, expected)
    up.stop()


def test_crash_before_publish_loses_nothing(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc], token: Token
) -> None:
    db = db_name("intake_crash")
    env = {**stack_env, "CENTINELA_MONGO_DB": db}
    crashing = start_intake("intake-crash", {**env, "CENTINELA_OUTBOX_ENABLED": "false"}, log_dir, procs)
    ids = write_cases(crashing, token)
    expected = pending_ids(stack_env, db)
    assert len(expected) == 2 * len(ids)
    crashing.stop(signal.SIGKILL)
    assert crashing.popen.returncode == -signal.SIGKILL
    restarted = start_intake("intake-restarted", env, log_dir, procs)
    assert_delivered_exactly_once(stack_env, db, ids, expected)
    # the values on the wire are the ones written before the crash, ids included
    with_data = case_events(stack_env, ids, lambda evs: len(evs) >= len(expected))
    assert {json.dumps(e["data"], sort_keys=True) for e in with_data if e["type"] == "centinela.case.registered"}
    restarted.stop()
