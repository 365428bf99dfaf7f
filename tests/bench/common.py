"""What every benchmark section shares: the run's namespace on the shared broker and database, the
processes it starts (stopped by PID), the rows of the one table, and small measuring helpers.

A run owns topic prefixes ``bench<run>x.`` and databases ``bench_<run>_*``: it starts from nothing
(empty databases, new topics), so runs are comparable, and at the end it drops exactly those.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared.events import CloudEvent, encode
from shared.settings import CommonSettings
from tests.support import Proc, delete_topics, free_port, uvicorn_args

PARTITIONS = 6


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Row:
    """One line of the table: a path, its measurement, the baseline of the same run, the goal, the verdict.

    ``goal`` is a number compared with ``value`` (``higher`` says which way is better) or, when
    ``goal_ratio`` is set, with ``value / baseline``; ``verdict`` is ``met``, ``NOT met`` or ``-``
    (no goal, or not measured)."""

    section: str
    path: str
    value: float | None
    unit: str
    goal: float | None = None
    higher: bool = True
    baseline: float | None = None
    baseline_name: str = ""
    goal_ratio: float | None = None
    note: str = ""
    ratio: float | None = None
    verdict: str = "-"

    def judge(self) -> Row:
        if self.value is not None and self.baseline:
            self.ratio = self.value / self.baseline
        if self.value is None:
            self.verdict = "not measured"
        elif self.goal_ratio is not None and self.ratio is not None:
            self.verdict = "met" if self.ratio >= self.goal_ratio else "NOT met"
        elif self.goal is not None:
            ok = self.value >= self.goal if self.higher else self.value <= self.goal
            self.verdict = "met" if ok else "NOT met"
        return self

    def goal_text(self) -> str:
        if self.goal_ratio is not None:
            return f">= {self.goal_ratio:.0%} of baseline"
        if self.goal is None:
            return "-"
        return f"{'>=' if self.higher else '<='} {fmt(self.goal)} {self.unit}"

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["goal_text"] = self.goal_text()
        return d


def fmt(x: float | None) -> str:
    if x is None or x != x:  # None or NaN
        return "-"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


@dataclass
class Bench:
    """One run: sizes, namespace, started processes, collected rows."""

    quick: bool
    sizes: dict[str, int]
    bootstrap: str = field(default_factory=lambda: os.environ.get("CENTINELA_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    mongo_uri: str = field(default_factory=lambda: os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    log_dir: Path = field(default_factory=lambda: Path(os.environ.get("TMPDIR", "/tmp")))
    rows: list[Row] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    databases: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.monotonic)

    # --- output -------------------------------------------------------------------------------
    def progress(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f}s] {text}", flush=True)

    def add(self, row: Row) -> Row:
        row.judge()
        self.rows.append(row)
        self.progress(f"  {row.path}: {fmt(row.value)} {row.unit}" + (f" ({row.note})" if row.note else ""))
        return row

    # --- namespace ----------------------------------------------------------------------------
    def db(self, name: str) -> str:
        database = f"bench_{self.run_id}_{name}"
        self.databases.add(database)
        return database

    def settings(self, prefix: str = "") -> CommonSettings:
        return CommonSettings(
            kafka_bootstrap=self.bootstrap, mongo_uri=self.mongo_uri, topic_prefix=prefix, partitions=PARTITIONS
        )

    def namespace(self, name: str) -> dict[str, str]:
        """Env for the processes of one section: its own topic prefix (topics created) and consumer groups."""
        from shared.topics import ensure_topics

        prefix = f"bench{self.run_id}{name}."
        self.prefixes.append(prefix)
        ensure_topics(self.settings(prefix), timeout=60)
        return {
            "CENTINELA_KAFKA_BOOTSTRAP": self.bootstrap,
            "CENTINELA_MONGO_URI": self.mongo_uri,
            "CENTINELA_ENV": "dev",
            "CENTINELA_TOPIC_PREFIX": prefix,
            "CENTINELA_PARTITIONS": str(PARTITIONS),
            "CENTINELA_LOG_LEVEL": "WARNING",
            # capacity, not the per-principal limiter, is measured (one token sends everything)
            "CENTINELA_RATE_LIMIT_ENABLED": "false",
        }

    # --- processes ----------------------------------------------------------------------------
    def start(self, name: str, args: list[str], env: dict[str, str], port: int) -> Proc:
        proc = Proc(f"bench-{self.run_id}-{name}", args, env, self.log_dir, port=port)
        self.procs.append(proc)
        return proc

    def service(self, name: str, module: str, env: dict[str, str], **extra: str) -> Proc:
        """A uvicorn service (``services.intake.main:app``) on a free port, ready."""
        port = free_port()
        proc = self.start(name, uvicorn_args(module, port), {**env, **extra}, port)
        proc.wait_ready(timeout=90)
        return proc

    def processor(self, name: str, env: dict[str, str], policy: Path, datadir: Path, **extra: str) -> Proc:
        """A processor worker (faust) on a free web port; not waited for (callers time its start)."""
        port = free_port()
        level = os.environ.get("CENTINELA_BENCH_PROCESSOR_LOG_LEVEL", "warn")  # info: rebalances, heap rebuilds
        args = [sys.executable, "-m", "services.processor", "worker", "--web-port", str(port), "-l", level]
        full = {
            **env,
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_PROCESSOR_TICK_SECONDS": "0.5",
            "CENTINELA_PROCESSOR_DATADIR": str(datadir),
            "CENTINELA_PROCESSOR_SESSION_TIMEOUT_SECONDS": "10",
            **extra,
        }
        return self.start(name, args, full, port)

    def stop(self, proc: Proc, sig: int | None = None) -> None:
        proc.stop(sig=sig)
        if proc in self.procs:
            self.procs.remove(proc)

    def cleanup(self) -> None:
        from pymongo import MongoClient

        for proc in reversed(self.procs):
            proc.stop()
        self.procs.clear()
        client: MongoClient[Any] = MongoClient(self.mongo_uri, serverSelectionTimeoutMS=5000)
        try:
            # every database of this run, also those a service derived from ours (the audit trail lives in
            # ``bench_<run>_intake`` for a ``bench_<run>_legal`` service)
            mine = {n for n in client.list_database_names() if n.startswith(f"bench_{self.run_id}_")}
            for name in self.databases | mine:
                client.drop_database(name)
        finally:
            client.close()
        remove_topics(self.bootstrap, self.prefixes)


def remove_topics(bootstrap: str, prefixes: list[str]) -> None:
    """This run's topics deleted (``tests.support.delete_topics``); a failure leaves them behind,
    never breaks the table."""
    try:
        delete_topics(bootstrap, prefixes, client_id="bench-cleanup")
    except Exception as exc:
        print(f"bench: could not delete topics: {exc!r}", flush=True)


async def _produce(bootstrap: str, records: list[tuple[str, bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=10)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for topic, key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def produce(bench: Bench, topic: str, events: list[CloudEvent]) -> None:
    """``events`` onto the (prefixed) ``topic``, keyed by case id, with aiokafka (fast: loading, not measuring)."""
    asyncio.run(_produce(bench.bootstrap, [(topic, e.subject.encode(), encode(e)) for e in events]))


def metrics_text(proc: Proc) -> str:
    return httpx.get(proc.url + "/metrics", timeout=5).text


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        rest = line[len(name) :]
        if not (rest.startswith(" ") or rest.startswith("{")):
            continue
        if all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (and its reaped children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def poll(fn: Callable[[], Any], timeout: float, interval: float = 0.2) -> Any:
    """``fn()`` until truthy or ``timeout``: returns the last value (falsy on timeout, never raises)."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        try:
            value = fn()
        except Exception:  # what is polled may not be up yet (HTTP, database, broker errors alike)
            value = None
        if value:
            return value
        time.sleep(interval)  # polling a condition with a deadline, not synchronising steps
    return value


@contextmanager
def section(bench: Bench, name: str) -> Iterator[None]:
    """Run one section; a failure is printed and the section's missing rows say 'not measured'."""
    bench.progress(f"== {name}")
    try:
        yield
    except Exception as exc:
        bench.progress(f"  {name} failed: {exc!r}"[:600])
        bench.add(Row("failed", f"{name}: not finished", None, "", note=repr(exc)[:200]))
