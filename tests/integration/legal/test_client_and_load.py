"""The reference client against the running service, and concurrent writers on one case."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared.topics import COURT_UPDATES
from tests.integration.legal.conftest import new_id, post, readable_timeline, register_case, update
from tests.integration.legal.test_rest import legal_events
from tests.support import ROOT

pytestmark = pytest.mark.integration


def run_client(legal, token_headers, *args):
    token = token_headers["Authorization"].split(" ", 1)[1]
    env = {"CENTINELA_LEGAL_TOKEN": token, "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "services.legal.cli", *args, "--url", legal.url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_client_replays_csv_and_ndjson_exports(legal, tokens, producer, tmp_path):
    case_id = new_id("c")
    rows = [update(case_id, "stage_changed", "2025-01-02T10:00:00Z", stage="complaint_filed")]
    rows += [update(case_id, "victim_notified", f"2025-01-{3 + i:02d}T10:00:00Z", about="hearing") for i in range(7)]
    rows.append(update(case_id, "stage_changed", "2025-02-01T10:00:00Z", stage="trial"))  # illegal: rejected
    csv_path = tmp_path / "export.csv"
    fields = ["source_system", "update_id", "case_id", "kind", "occurred_at", "stage", "about"]
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    first = run_client(legal, tokens.integrator(), str(csv_path), "--batch-size", "4")
    assert first.returncode == 1, first.stderr
    assert "summary: 9 updates, 8 accepted, 0 duplicate, 1 rejected" in first.stdout
    assert "rejected line 10: stage: illegal transition complaint_filed -> trial" in first.stdout
    assert "batch 3/3" in first.stderr

    ndjson = tmp_path / "export.ndjson"
    ndjson.write_text("\n".join(json.dumps(r) for r in rows[:8]) + "\n")
    again = run_client(legal, tokens.integrator(), str(ndjson), "--batch-size", "500", "--quiet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "summary: 8 updates, 0 accepted, 8 duplicate, 0 rejected" in again.stdout
    assert again.stderr == ""

    wrong = run_client(legal, tokens.integrator("cej"), str(ndjson))
    assert wrong.returncode == 2 and "403" in wrong.stderr

    register_case(producer, case_id, "org-client", "adv-client")
    t = readable_timeline(legal, case_id, tokens("legal_advocate", sub="adv-client"))
    assert len(t["entries"]) == 8 and len(t["victim_notifications"]) == 7


def test_concurrent_rest_and_kafka_writers_lose_nothing(legal, tokens, producer, stack_env):
    case_id = new_id("c")
    h = tokens.integrator()
    assert (
        post(legal, h, update(case_id, "stage_changed", "2025-01-01T10:00:00Z", stage="complaint_filed")).json()[
            "accepted"
        ]
        == 1
    )
    rest_items = [
        update(case_id, "victim_notified", f"2025-01-02T10:{i // 60:02d}:{i % 60:02d}Z", about="hearing")
        for i in range(40)
    ]
    kafka_items = [
        update(case_id, "protective_measure_granted", f"2025-01-03T10:00:{i:02d}Z", measure="shelter")
        for i in range(20)
    ]
    with ThreadPoolExecutor(max_workers=5) as pool:
        kafka_future = pool.submit(
            lambda: [
                producer.send_raw(COURT_UPDATES, case_id.encode(), json.dumps(i).encode()).get(timeout=30)
                for i in kafka_items
            ]
        )
        statuses = list(pool.map(lambda item: post(legal, h, item).json()["results"][0]["status"], rest_items))
        kafka_future.result()
    assert statuses == ["accepted"] * 40

    events = legal_events(stack_env, case_id, lambda evs: len(evs) >= 61, timeout=90)
    assert len({e.id for e in events}) == 61
    register_case(producer, case_id, "org-load", "adv-load")
    t = readable_timeline(
        legal, case_id, tokens("legal_advocate", sub="adv-load"), until=lambda t: len(t["protective_measures"]) == 20
    )
    assert len(t["victim_notifications"]) == 40 and len(t["entries"]) == 61
