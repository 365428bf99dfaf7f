"""No lost updates: what arrives on court-updates while the service is down is processed after a
restart, and what was processed before is not processed again (offsets follow the stored writes)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from pymongo import MongoClient

from shared.topics import COURT_UPDATES
from tests.integration.legal.conftest import new_id, update
from tests.integration.legal.test_poison import lag_by_partition
from tests.support import Proc, free_port, uvicorn_args, wait_for

pytestmark = pytest.mark.integration


def test_restart_resumes_from_committed_offsets(legal_env, db_name, producer, log_dir, procs):
    group = f"legal-restart-{uuid.uuid4().hex[:6]}"
    env = {
        **legal_env,
        "CENTINELA_MONGO_DB": db_name("legal_restart"),
        "CENTINELA_LEGAL_COURT_UPDATES_GROUP": group,
        "CENTINELA_LEGAL_CASE_EVENTS_GROUP": group + "-access",
    }
    case_id = new_id("c")
    items = [
        update(case_id, "stage_changed", "2025-01-01T10:00:00Z", stage="complaint_filed"),
        update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="preliminary_investigation"),
        update(case_id, "victim_notified", "2025-01-06T10:00:00Z", about="hearing"),
    ]
    client: MongoClient = MongoClient(env["CENTINELA_MONGO_URI"], serverSelectionTimeoutMS=5000)
    stored = client[env["CENTINELA_MONGO_DB"]]["legal_updates"]

    def send(item):
        producer.send_raw(COURT_UPDATES, case_id.encode(), json.dumps(item).encode()).get(timeout=30)

    def start(name: str) -> Proc:
        port = free_port()
        proc = Proc(name, uvicorn_args("services.legal.main:app", port), env, log_dir, port=port)
        procs.append(proc)
        proc.wait_ready()
        return proc

    try:
        first = start("legal-restart-1")
        send(items[0])
        wait_for(lambda: stored.count_documents({"case_id": case_id}) == 1, timeout=60, what="first update stored")
        # A fresh group reads the session's whole topic (other tests' replays included): stop only once
        # it has caught up, so whatever the second process reads was never processed before.
        wait_for(
            lambda: (lag := lag_by_partition(first)) and all(v == 0 for v in lag.values()), timeout=60, what="lag 0"
        )
        first.stop()
        send(items[1])
        send(items[2])
        second = start("legal-restart-2")
        wait_for(lambda: stored.count_documents({"case_id": case_id}) == 3, timeout=60, what="updates sent while down")
        stages = client[env["CENTINELA_MONGO_DB"]]["legal_timelines"].find_one({"_id": case_id})
        assert stages is not None and stages["stage"] == "preliminary_investigation"
        metrics = httpx.get(second.url + "/metrics", timeout=10).text
        assert 'centinela_legal_updates_received_total{outcome="duplicate",path="kafka"}' not in metrics
        second.stop()
    finally:
        client.close()
