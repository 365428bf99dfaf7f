"""Measure the alerts service: alerts stored per second from a backlog on ``alerts``, and inbox read latency.

    .venv/bin/python -m tests.integration.alerts_service.measure_ingest [--tree DIR] [--alerts 2000]

``--tree`` runs the service from another checkout (e.g. ``git archive <commit> | tar -x -C DIR``)
with this checkout's client code, so two versions are measured the same way. Everything gets its own
topic prefix and database, removed afterwards; the broker and the database are the running ones
(CENTINELA_KAFKA_BOOTSTRAP, CENTINELA_MONGO_URI). Prints one JSON line.

Progress is read from the service's own counter (``/metrics``), not by counting the collection: the
local database server counts by reading every document, so polling a count while the service stores
takes the server's time from what is measured. The same run measures the server's raw rate for the
same documents (``raw_insert_many_per_second``: the alerts' stored form, the alerts collection's
indexes, batches of 100, one client) just before the backlog, and the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from services.alerts.store.alert_repository import _raised_doc
from services.alerts.store.documents import AlertDoc
from shared.auth import mint
from shared.events import new_event
from shared.kafka import Producer
from shared.settings import CommonSettings
from shared.topics import ALERTS, ensure_topics
from tests.support import alert_raised, delete_topics, free_port

ROOT = Path(__file__).resolve().parents[3]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tree", default=str(ROOT), help="checkout whose alerts service is measured")
    parser.add_argument("--alerts", type=int, default=2000, help="backlog size")
    parser.add_argument("--timeout", type=float, default=120.0, help="longest wait for the backlog")
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument(
        "--spread-days", type=float, default=90.0, help="raised_at spread evenly over this many past days (0: now)"
    )
    args = parser.parse_args(argv)

    load_before = load()
    run = uuid.uuid4().hex[:8]
    prefix, db = f"measure-{run}-", f"measure_alerts_{run}"
    bootstrap = os.environ.get("CENTINELA_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
    mongo_uri = os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/")
    settings = CommonSettings(kafka_bootstrap=bootstrap, topic_prefix=prefix, mongo_uri=mongo_uri)
    ensure_topics(settings)
    raw_rate = raw_insert_many(mongo_uri, f"{db}_raw")

    # the backlog: one advocate's inbox, one case with a handful of alerts among many cases
    producer = Producer(settings, client_id="measure-ingest")
    busy_case = f"case-busy-{run}"
    now = datetime.now(UTC)
    for i in range(args.alerts):
        at = now - timedelta(days=args.spread_days * i / args.alerts)
        if i % 200 == 0:
            payload = alert_raised(
                org="org-measure", advocate="adv-measure", case_id=busy_case, episode=i + 1, raised_at=at
            )
        else:
            payload = alert_raised(org="org-measure", advocate="adv-measure", raised_at=at)
        producer.publish(ALERTS, new_event(payload))
    producer.flush(60)
    producer.close()

    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": args.tree,
        "CENTINELA_KAFKA_BOOTSTRAP": bootstrap,
        "CENTINELA_MONGO_URI": mongo_uri,
        "CENTINELA_MONGO_DB": db,
        "CENTINELA_TOPIC_PREFIX": prefix,
        "CENTINELA_SMTP_HOST": "",
        "CENTINELA_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "uvicorn", "services.alerts.main:app", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=args.tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    result: dict[str, Any] = {"tree": args.tree, "backlog": args.alerts, "spread_days": args.spread_days}
    result["raw_insert_many_per_second"] = round(raw_rate, 1)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # polling a process start, not synchronising test steps
        started = time.monotonic()
        coll = client[db]["alerts"]
        first = None
        seen = 0.0
        deadline = started + args.timeout
        while time.monotonic() < deadline:
            seen = ingested(url)
            if seen and first is None:
                first = time.monotonic()
            if seen >= args.alerts:
                break
            time.sleep(0.05)  # polling the service's progress, not synchronising test steps
        elapsed = time.monotonic() - (first or started)
        stored = coll.count_documents({})  # once, after: the counter says new alerts, the store says them all
        result["stored"] = stored
        result["ingest_seconds"] = round(elapsed, 2)
        result["alerts_per_second"] = round(seen / elapsed, 1) if elapsed > 0 else None
        if result["alerts_per_second"]:
            result["ratio_to_raw"] = round(result["alerts_per_second"] / raw_rate, 2)

        token = mint(CommonSettings(), sub="adv-measure", roles=["legal_advocate"], org="org-measure")
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            for name, params in (("inbox", {"limit": 50}), ("inbox_by_case", {"case_id": busy_case})):
                times = []
                for _ in range(args.reads):
                    t = time.perf_counter()
                    r = http.get("/v1/alerts", params=params)
                    times.append((time.perf_counter() - t) * 1000)
                    r.raise_for_status()
                result[f"{name}_ms_p50"] = round(statistics.median(times), 1)
                result[f"{name}_ms_p99"] = round(percentile(times, 0.99), 1)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        client.drop_database(db)
        client.close()
        try:
            delete_topics(bootstrap, [prefix], client_id="measure-ingest")  # the run's own prefix
        except Exception:  # never created or the broker is gone: nothing to tidy
            pass
    result["load_before"], result["load_after"] = load_before, load()
    print(json.dumps(result))
    return 0


def load() -> str:
    """The load average (1, 5, 15 minutes): what else the machine was doing."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def ingested(url: str) -> float:
    """New alerts the service has stored so far (its ``ingested`` counter), 0 while it cannot answer."""
    try:
        text = httpx.get(url + "/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    name = "centinela_alerts_service_alerts_ingested_total"
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


def raw_insert_many(mongo_uri: str, db: str, n: int = 3000, batch: int = 100) -> float:
    """The server's own rate for the service's documents: alerts in their stored form, inserted in batches
    into a collection with the alerts collection's indexes, by one client."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    coll = client[db]["alerts"]
    try:
        for spec in AlertDoc._meta["index_specs"]:
            coll.create_index(spec["fields"], **{k: v for k, v in spec.items() if k != "fields"})
        now = datetime.now(UTC)
        docs = []
        for i in range(n):
            p = alert_raised(org="org-raw", advocate="adv-raw", episode=i + 1, raised_at=now - timedelta(seconds=i))
            docs.append({"_id": p.alert_id, **_raised_doc(p, uuid.uuid4().hex, now)})
        t0 = time.perf_counter()
        for k in range(0, n, batch):
            coll.insert_many(docs[k : k + batch], ordered=False)
        return n / (time.perf_counter() - t0)
    finally:
        client.drop_database(db)
        client.close()


if __name__ == "__main__":
    sys.exit(main())
