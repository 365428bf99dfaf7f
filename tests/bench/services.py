"""The services through their APIs, each on an empty database of this run: intake registrations with
1 / 8 / 32 clients, legal REST batches of 500 as data grows, the alerts service storing a backlog
from the ``alerts`` topic and serving the inbox, and the database's CPU with the whole stack idle."""

from __future__ import annotations

import glob
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from shared.auth import mint
from shared.events import new_event
from shared.events.case import CaseRegistered, ProsecutorRefsSet
from shared.topics import ALERTS
from tests.bench.common import Bench, Row, cpu_seconds, percentile, poll, produce, section
from tests.support import Proc, alert_raised, free_port

ORG = "org-bench"


def case_body(advocate: str) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:12]
    return {
        "identity": {"given_names": f"Given {tag}", "family_names": f"Family {tag}", "birth_date": "2010-03-04"},
        "trafficking_status": "Presumed",
        "exploitation_types": ["SexualExploitation"],
        "region": "Madre de Dios",
        "rescue_date": (datetime.now(UTC) - timedelta(days=3)).date().isoformat(),
        "advocate_id": advocate,
        "consent_for_services": True,
    }


def concurrent(clients: int, seconds: float, one: Callable[[int], object]) -> tuple[float, list[float], int]:
    """``clients`` threads calling ``one(i)`` for ``seconds``: (calls/s, latencies, errors)."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def loop(k: int) -> None:
        i = 0
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                one(k * 1_000_000 + i)
            except Exception:  # counted: an error is a measurement here, not a crash
                with lock:
                    errors[0] += 1
                continue
            finally:
                i += 1
            with lock:
                lat.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=loop, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(lat) / (time.perf_counter() - t0), lat, errors[0]


def intake(bench: Bench) -> None:
    seconds = bench.sizes["intake_seconds"]
    with section(bench, f"intake POST /v1/cases, 1 / 8 / 32 clients, {seconds}s each"):
        env = bench.namespace("intake")
        proc = bench.service("intake", "services.intake.main:app", env, CENTINELA_MONGO_DB=bench.db("intake"))
        settings = bench.settings(env["CENTINELA_TOPIC_PREFIX"])
        headers = {"Authorization": "Bearer " + mint(settings, sub="officer-b", roles=["intake_officer"], org=ORG)}
        raw: MongoClient[Any] = MongoClient(bench.mongo_uri, maxPoolSize=64)
        raw_coll = raw[bench.db("raw_concurrent")]["raw"]
        http = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=64))
        try:
            for clients in (1, 8, 32):
                base_rate, _, _ = concurrent(
                    clients, min(seconds, 5), lambda i: raw_coll.insert_one({"_id": uuid.uuid4().hex, "v": "x" * 400})
                )

                def post(i: int) -> None:
                    r = http.post(proc.url + "/v1/cases", json=case_body("adv-b"), headers=headers)
                    if r.status_code != 201:
                        raise RuntimeError(r.status_code)

                rate, lat, errors = concurrent(clients, seconds, post)
                note = f"{len(lat)} registered" + (f", {errors} errors" if errors else "")
                bench.add(
                    Row(
                        "intake",
                        f"POST /v1/cases, {clients} client{'s' if clients > 1 else ''}",
                        rate,
                        "cases/s",
                        goal=1500,
                        baseline=base_rate,
                        baseline_name=f"raw insert_one, {clients} clients",
                        note=note,
                    )
                )
                bench.add(
                    Row(
                        "intake",
                        f"POST /v1/cases p99, {clients} client{'s' if clients > 1 else ''}",
                        percentile(lat, 99),
                        "s",
                        note=note,
                    )
                )
        finally:
            http.close()
            raw.close()
            bench.stop(proc)


def legal(bench: Bench, base: dict[str, float]) -> None:
    from tests.integration.legal.measure_rest import Workload, preload

    grown = bench.sizes["legal_grown"]
    batches = bench.sizes["legal_batches"]
    with section(bench, f"legal REST, batches of 500: on an empty store, then with {grown:,} updates stored"):
        env = bench.namespace("legal")
        database = bench.db("legal")
        settings = bench.settings(env["CENTINELA_TOPIC_PREFIX"])
        work = Workload(100)
        # the shares go out before the service starts: a consumer that joins before a new topic's metadata
        # reached it was seen to get no partitions for minutes ("No partition metadata"); it reads them from
        # the start of the topic
        share_with_integrator(bench, settings.topic("case-events"), work.cases, "bench")
        proc = bench.service("legal", "services.legal.main:app", env, CENTINELA_MONGO_DB=database)
        token = mint(settings, sub="int-bench", roles=["court_integrator"], source_system="bench")
        headers = {"Authorization": f"Bearer {token}"}
        client: MongoClient[Any] = MongoClient(bench.mongo_uri, tz_aware=True)
        stored = 0
        try:
            with httpx.Client(timeout=300) as http:
                # legal learns the shares from case-events: a batch naming every case answers 404 until it has

                def shared() -> bool:
                    body = [work.next(c) for c in work.cases]
                    return http.post(proc.url + "/v1/court-updates", json=body, headers=headers).status_code == 200

                if not poll(shared, timeout=300, interval=0.5):
                    raise RuntimeError("the legal service never learnt the cases' integrator shares (in 300 s)")
                for level in (0, grown):
                    target, note = level, ""
                    if level > stored:
                        bench.progress(f"  preloading {level - stored:,} updates")
                        t_load, before = time.monotonic(), stored
                        budget = bench.sizes["load_budget"]
                        while stored < level and time.monotonic() - t_load < budget:
                            stored = preload(client[database], stored, min(level, stored + 2_000))
                        level = stored
                        note = f"; loaded at {(stored - before) / (time.monotonic() - t_load):,.0f} updates/s"
                        if level < target:
                            note += f"; {target:,} NOT reached in the {budget}s load budget: measured at {level:,}"
                    times = []
                    for _ in range(batches):
                        body = work.batch(500)
                        t0 = time.perf_counter()
                        r = http.post(proc.url + "/v1/court-updates", json=body, headers=headers)
                        times.append(time.perf_counter() - t0)
                        if r.status_code != 200 or r.json().get("accepted") != 500:
                            raise RuntimeError(f"batch not fully accepted: {r.status_code} {r.text[:200]}")
                        stored += 500
                    bench.add(
                        Row(
                            "legal",
                            f"court updates, batches of 500 @ {target:,} stored",
                            500 * len(times) / sum(times),
                            "updates/s",
                            goal=2000,
                            baseline=base.get("insert_many"),
                            baseline_name="raw insert_many",
                            note=f"{batches} batches, batch p50 {statistics.median(times):.2f}s{note}",
                        )
                    )
        finally:
            client.close()
            bench.stop(proc)


def share_with_integrator(bench: Bench, topic: str, case_ids: list[str], source_system: str) -> None:
    """Intake's facts that open the cases to ``source_system`` (registered, prosecutor references shared)."""
    now = datetime.now(UTC)
    events = []
    for i, case_id in enumerate(case_ids):
        events.append(new_event(CaseRegistered(case_id=case_id, org_id=ORG, advocate_id="adv-b", registered_at=now)))
        events.append(
            new_event(
                ProsecutorRefsSet(
                    case_id=case_id,
                    org_id=ORG,
                    carpeta_fiscal=f"cf-{i}",
                    office="bench-office",
                    shared_with_systems=[source_system],
                    set_at=now,
                    set_by_role="intake_officer",
                )
            )
        )
    produce(bench, topic, events)


def alerts(bench: Bench) -> None:
    n = bench.sizes["alerts_backlog"]
    with section(bench, f"alerts service: a backlog of {n:,} alerts on the topic -> stored; inbox reads"):
        env = bench.namespace("alerts")
        settings = bench.settings(env["CENTINELA_TOPIC_PREFIX"])
        busy = f"case-busy-{uuid.uuid4().hex[:8]}"
        now = datetime.now(UTC)
        backlog = []
        for i in range(n):
            at = now - timedelta(days=90 * i / n)
            case_id = busy if i % 200 == 0 else None
            payload = alert_raised(org=ORG, advocate="adv-b", case_id=case_id, episode=i + 1, raised_at=at)
            backlog.append(new_event(payload))
        produce(bench, settings.topic(ALERTS), backlog)
        database = bench.db("alerts")
        client: MongoClient[Any] = MongoClient(bench.mongo_uri)
        coll = client[database]["alerts"]
        proc = bench.service(
            "alerts", "services.alerts.main:app", env, CENTINELA_MONGO_DB=database, CENTINELA_SMTP_HOST=""
        )
        try:
            first = poll(lambda: coll.estimated_document_count() > 0 and time.monotonic(), timeout=60, interval=0.1)
            t_first = first or time.monotonic()
            poll(lambda: coll.estimated_document_count() >= n, timeout=bench.sizes["alerts_timeout"], interval=0.25)
            stored = coll.count_documents({})
            bench.add(
                Row(
                    "alerts",
                    "alerts stored from the alerts topic",
                    stored / max(time.monotonic() - t_first, 1e-9),
                    "alerts/s",
                    goal=1000,
                    note=f"{stored:,}/{n:,} stored",
                )
            )
            token = mint(settings, sub="adv-b", roles=["legal_advocate"], org=ORG)
            with httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
                for name, params in (("inbox page of 50", {"limit": 50}), ("inbox by case", {"case_id": busy})):
                    times = []
                    for _ in range(bench.sizes["reads"]):
                        t0 = time.perf_counter()
                        http.get("/v1/alerts", params=params).raise_for_status()
                        times.append((time.perf_counter() - t0) * 1000)
                    for q in (50, 99):
                        bench.add(
                            Row(
                                "alerts",
                                f"{name} read p{q}",
                                percentile(times, q),
                                "ms",
                                goal=50,
                                higher=False,
                                note=f"{len(times)} reads, {stored:,} alerts stored",
                            )
                        )
        finally:
            client.close()
            bench.stop(proc)


def _secantusd() -> str | None:
    """The database server binary the local stack uses (deploy/local/stack.sh caches it), if installed."""
    cache = Path(os.environ.get("CENTINELA_CACHE", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))))
    found = sorted(glob.glob(str(cache / "centinela" / "secantusdb-*" / "bin" / "secantusd-py")))
    return found[-1] if found else None


def idle_database(bench: Bench, tmp: Path) -> None:
    """A private database server (so no other client's load is counted), the whole stack on it, idle."""
    seconds = bench.sizes["idle_seconds"]
    with section(bench, f"database CPU with the stack idle ({seconds}s, private server, by PID)"):
        binary = _secantusd()
        if binary is None:
            raise RuntimeError("no SecantusDB binary in the cache (make up installs it)")
        port = free_port()
        data = Path(tempfile.mkdtemp(prefix="bench-db-", dir=tmp))
        server = bench.start(
            "idle-db",
            [binary, "--host", "127.0.0.1", "--port", str(port), "--storage-path", str(data)]
            + ["--cache-size", "128M", "--log-level", "WARNING"],
            {},
            port,
        )
        uri = f"mongodb://127.0.0.1:{port}/"
        try:
            client: MongoClient[Any] = MongoClient(uri, serverSelectionTimeoutMS=2000)
            poll(lambda: client.admin.command("ping"), timeout=60)
            client.close()
            env = {**bench.namespace("idle"), "CENTINELA_MONGO_URI": uri}
            procs: list[Proc] = []
            for name, module in (
                ("idle-intake", "services.intake.main:app"),
                ("idle-legal", "services.legal.main:app"),
                ("idle-alerts", "services.alerts.main:app"),
            ):
                procs.append(bench.service(name, module, env, CENTINELA_SMTP_HOST=""))
            from tests.integration.alerts_processor.helpers import seconds_policy

            worker = bench.processor("idle-processor", env, seconds_policy(tmp), tmp / "idle-proc")
            worker.wait_ready("/readyz", timeout=120)
            procs.append(worker)
            # some data, as a stack that has been used holds: cases registered through the API
            settings = bench.settings(env["CENTINELA_TOPIC_PREFIX"])
            headers = {"Authorization": "Bearer " + mint(settings, sub="officer-b", roles=["intake_officer"], org=ORG)}
            with httpx.Client(timeout=30) as http:
                for _ in range(bench.sizes["idle_cases"]):
                    http.post(procs[0].url + "/v1/cases", json=case_body("adv-b"), headers=headers).raise_for_status()
            time.sleep(10)  # pacing: let the writes' outbox relays, consumers and pollers settle first
            pid = server.popen.pid
            c0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(seconds)  # the measurement window itself
            busy = (cpu_seconds(pid) - c0) / (time.monotonic() - t0) * 100
            bench.add(
                Row(
                    "idle",
                    "database CPU, stack idle",
                    busy,
                    "% core",
                    goal=2,
                    higher=False,
                    note=f"PID {pid}, {seconds}s, intake+legal+alerts+processor, {bench.sizes['idle_cases']} cases",
                )
            )
            for p in procs:
                bench.stop(p)
        finally:
            bench.stop(server)
            shutil.rmtree(data, ignore_errors=True)


def run(bench: Bench, base: dict[str, float], tmp: Path) -> None:
    intake(bench)
    legal(bench, base)
    alerts(bench)
    idle_database(bench, tmp)


if __name__ == "__main__":  # pragma: no cover - the entry point is tests.bench.run
    sys.exit("run: python -m tests.bench.run")
