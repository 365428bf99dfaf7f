"""Throughput of ``POST /v1/court-updates`` in batches, as stored data grows (issue 16 item 2).

    python -m tests.integration.legal.measure_rest [--cases 100] [--batches 3] [--levels 0,10000,50000]
    python -m tests.integration.legal.measure_rest --profile      # cProfile of one batch, in process

Starts a real legal process (uvicorn) on a fresh database and a fresh topic prefix of the running
stack, then for each level of stored updates: tops the log up to that level (filler cases written
straight into the store, as a long-running deployment would hold them), and posts ``--batches``
batches of ``--batch`` updates spread over ``--cases`` cases (the same cases at every level, so
their own history grows too). Prints updates/s and p50/p99 per batch, and the raw single-document
``insert_one`` rate of the same server as the baseline ratio. Drops its database at the end.
Not a test (no assertions): pytest does not collect it (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

ROOT = Path(__file__).resolve().parents[3]
BASE = datetime(2020, 1, 1, tzinfo=UTC)


class Workload:
    """Legal updates in court order for ``cases`` cases: a stage first, then notifications and measures."""

    def __init__(self, cases: int, source: str = "bench") -> None:
        self.source = source
        self.cases = [f"bench-{uuid.uuid4().hex[:8]}-{i}" for i in range(cases)]
        self.count: dict[str, int] = dict.fromkeys(self.cases, 0)
        self.clock = 0

    def next(self, case_id: str) -> dict[str, Any]:
        n = self.count[case_id]
        self.count[case_id] = n + 1
        self.clock += 1
        at = (BASE + timedelta(seconds=self.clock)).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: dict[str, Any] = {
            "source_system": self.source,
            "update_id": f"u-{uuid.uuid4().hex[:16]}",
            "case_id": case_id,
            "occurred_at": at,
        }
        if n == 0:
            return {**body, "kind": "stage_changed", "stage": "complaint_filed"}
        if n % 3 == 1:
            return {**body, "kind": "victim_notified", "about": "hearing"}
        if n % 3 == 2:
            return {**body, "kind": "protective_measure_granted", "measure": "shelter"}
        return {**body, "kind": "hearing_scheduled", "hearing_id": f"h-{n}", "scheduled_for": "2030-01-01T15:00:00Z"}

    def batch(self, size: int) -> list[dict[str, Any]]:
        return [self.next(self.cases[i % len(self.cases)]) for i in range(size)]


def preload(db: Any, stored: int, target: int, per_case: int = 50) -> int:
    """Write filler cases straight into the store until the log holds ``target`` updates."""
    from services.legal.domain.deadlines import load_policy
    from services.legal.domain.timeline import Recorded, replay
    from services.legal.domain.updates import parse_update
    from services.legal.store.timelines import _entry, slot_id, summary

    policy = load_policy(ROOT / "services/legal/deadlines.yaml")
    now = datetime.now(UTC).replace(microsecond=0)
    while stored < target:
        work = Workload(1, source="filler")
        case_id = work.cases[0]
        n = min(per_case, target - stored)
        records = [Recorded(update=parse_update(work.next(case_id)), received_at=now) for _ in range(n)]
        db["legal_updates"].insert_many(
            [
                {"_id": slot_id(case_id, i + 1), "key": r.key, "case_id": case_id, "seq": i + 1, **_entry(r)}
                for i, r in enumerate(records)
            ]
        )
        state = replay(records, policy)
        db["legal_timelines"].replace_one(
            {"_id": case_id}, {"seq": n, "updates": [_entry(r) for r in records], **summary(state)}, upsert=True
        )
        stored += n
    return stored


def raw_insert_rate(client: MongoClient[Any], n: int = 200) -> tuple[float, float]:
    """Single-document ``insert_one`` per second, and ``insert_many`` documents per second, on this server."""
    coll = client[f"bench_raw_{uuid.uuid4().hex[:8]}"]["raw"]
    try:
        start = time.perf_counter()
        for i in range(n):
            coll.insert_one({"_id": i, "v": "x" * 200})
        one = n / (time.perf_counter() - start)
        start = time.perf_counter()
        coll.insert_many([{"_id": n + i, "v": "x" * 200} for i in range(n * 5)])
        many = n * 5 / (time.perf_counter() - start)
    finally:
        client.drop_database(coll.database.name)
    return one, many


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def run_rest(args: argparse.Namespace) -> dict[str, Any]:
    from shared.auth import mint
    from shared.settings import CommonSettings
    from shared.topics import ensure_topics
    from tests.support import Proc, base_env, free_port, new_prefix, uvicorn_args

    prefix = new_prefix()
    database = f"bench_legal_{uuid.uuid4().hex[:8]}"
    env = {**base_env(), "CENTINELA_TOPIC_PREFIX": prefix, "CENTINELA_PARTITIONS": "3", "CENTINELA_MONGO_DB": database}
    env["CENTINELA_LOG_LEVEL"] = "WARNING"
    settings = CommonSettings(kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=prefix, partitions=3)
    ensure_topics(settings, timeout=60)
    client: MongoClient[Any] = MongoClient(env["CENTINELA_MONGO_URI"], tz_aware=True)
    one, many = raw_insert_rate(client)
    print(f"raw server: insert_one {one:,.0f} docs/s, insert_many {many:,.0f} docs/s", flush=True)
    token = mint(settings, sub="int-bench", roles=["court_integrator"], source_system="bench")
    headers = {"Authorization": f"Bearer {token}"}
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"measure-legal-{uuid.uuid4().hex[:6]}"
    log_dir.mkdir(parents=True)
    port = free_port()
    proc = Proc("legal", uvicorn_args("services.legal.main:app", port), env, log_dir, port=port)
    rows: list[dict[str, Any]] = []
    try:
        proc.wait_ready()
        work = Workload(args.cases)
        stored = 0
        http = httpx.Client(timeout=600)
        for level in args.levels:
            stored = preload(client[database], stored, level)
            times: list[float] = []
            for _ in range(args.batches):
                body = {"updates": work.batch(args.batch)}
                start = time.perf_counter()
                r = http.post(proc.url + "/v1/court-updates", json=body, headers=headers)
                times.append(time.perf_counter() - start)
                result = r.json()
                if r.status_code != 200 or result["accepted"] != args.batch:
                    raise SystemExit(f"batch not fully accepted: {r.status_code} {str(result)[:300]}")
                stored += args.batch
            row = {
                "stored_before": level,
                "updates_per_s": round(args.batch * len(times) / sum(times), 1),
                "batch_p50_s": round(percentile(times, 50), 3),
                "batch_p99_s": round(percentile(times, 99), 3),
            }
            rows.append(row)
            print(
                f"stored {level:>7,}: {row['updates_per_s']:>8,.1f} updates/s  "
                f"batch p50 {row['batch_p50_s']:.3f}s p99 {row['batch_p99_s']:.3f}s",
                flush=True,
            )
        http.close()
    finally:
        proc.stop()
        client.drop_database(database)
        client.close()
    return {"raw_insert_one_per_s": round(one, 1), "raw_insert_many_per_s": round(many, 1), "levels": rows}


def run_profile(args: argparse.Namespace) -> None:
    """One batch through LegalService.submit_many in this process, under cProfile (after a warm-up batch)."""
    from pymongo.monitoring import CommandListener, CommandStartedEvent, CommandSucceededEvent, register

    from services.legal.domain.deadlines import load_policy
    from services.legal.service import Actor, LegalService
    from services.legal.settings import LegalSettings
    from services.legal.store.audit import AuditLog
    from services.legal.store.timelines import TimelineRepository
    from shared.mongo import connect

    commands: dict[str, int] = {}
    seconds: dict[str, float] = {}
    target: dict[int, str] = {}

    class Count(CommandListener):
        def started(self, event: CommandStartedEvent) -> None:
            commands[event.command_name] = commands.get(event.command_name, 0) + 1
            target[event.request_id] = f"{event.command_name} {event.command.get(event.command_name)}"

        def succeeded(self, event: CommandSucceededEvent) -> None:
            name = target.pop(event.request_id, event.command_name)
            seconds[name] = seconds.get(name, 0.0) + event.duration_micros / 1e6

        def failed(self, event: Any) -> None:
            failure = event.failure
            why = failure.get("codeName", failure.get("code")) if isinstance(failure, dict) else type(failure).__name__
            name = f"{event.command_name} failed ({why}: {str(failure)[:200]})"
            commands[name] = commands.get(name, 0) + 1

    register(Count())
    database = f"bench_legal_{uuid.uuid4().hex[:8]}"
    settings = LegalSettings(mongo_db=database, outbox_enabled=False)
    client = connect(settings)
    try:
        repo = TimelineRepository()
        repo.ensure_indexes()
        audit = AuditLog(client[database]["audit"])
        audit.ensure_indexes()
        service = LegalService(settings, repo, load_policy(settings.legal_deadlines_file), audit=audit)
        actor = Actor("int-bench", "court_integrator", ("court_integrator",), None)
        work = Workload(args.cases)
        preload(client[database], 0, args.levels[-1] if args.levels else 0)
        service.submit_many(work.batch(args.batch), "rest", actor=actor)  # warm-up
        commands.clear()
        seconds.clear()
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        outcomes = service.submit_many(work.batch(args.batch), "rest", actor=actor)
        profiler.disable()
        took = time.perf_counter() - start
        print(f"one batch of {args.batch}: {took:.3f}s ({args.batch / took:,.0f} updates/s) in process")
        print("statuses:", {s: sum(o.status == s for o in outcomes) for s in ("accepted", "duplicate", "rejected")})
        print("database commands in the batch:", dict(sorted(commands.items())))
        print("seconds per command and collection:", {k: round(v, 3) for k, v in sorted(seconds.items())})
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        print(out.getvalue())
    finally:
        client.drop_database(database)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.integration.legal.measure_rest", description=__doc__)
    parser.add_argument("--cases", type=int, default=100, help="cases the measured batches are spread over")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=3, help="measured batches per level")
    parser.add_argument("--levels", default="0,10000,50000", help="stored updates before each level's batches")
    parser.add_argument("--profile", action="store_true", help="cProfile one batch in process at the last level")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    sys.path.insert(0, str(ROOT))
    if args.profile:
        run_profile(args)
        return 0
    result = run_rest(args)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
