"""`make bench`: throughput and latency of the moving parts, on the real local broker and database.

Prints one line per measurement; the numbers are for this machine (2 cores) and are targets to
watch, not assertions. Run via `make bench`, which starts Kafka and the database if needed.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from shared.events import decode, encode
from shared.events.case import SessionRecorded
from shared.settings import CommonSettings


def _line(name: str, value: float, unit: str, extra: str = "") -> None:
    print(f"{name:48} {value:>12,.1f} {unit:10} {extra}")


def _sessions(n: int, cases: int) -> list[SessionRecorded]:
    """``n`` attended-session events spread over ``cases`` cases (``cs_<i % cases>``)."""
    now = datetime.now(UTC)
    return [
        SessionRecorded(
            case_id=f"cs_{i % cases}",
            service_id="sv",
            session_id=f"ss{i}",
            service_kind="psychosocial",
            outcome="attended",
            occurred_at=now,
            recorded_at=now,
        )
        for i in range(n)
    ]


def bench_codec(n: int = 20000) -> None:
    payloads = _sessions(n, cases=n)
    t0 = time.perf_counter()
    raws = [encode(p) for p in payloads]
    t1 = time.perf_counter()
    for r in raws:
        decode(r)
    t2 = time.perf_counter()
    _line("codec encode", n / (t1 - t0), "events/s")
    _line(
        "codec decode (parse+validate)", n / (t2 - t1), "events/s", f"avg size {statistics.mean(map(len, raws)):.0f} B"
    )


def bench_kafka(settings: CommonSettings, n: int = 20000) -> None:
    from kafka import KafkaConsumer

    from shared.kafka import Producer
    from shared.topics import ensure_topics

    ensure_topics(settings, timeout=60)
    producer = Producer(settings, client_id="bench")
    raws = [encode(p) for p in _sessions(n, cases=500)]
    t0 = time.perf_counter()
    futures = [producer.send_raw("case-events", f"cs_{i % 500}".encode(), raw) for i, raw in enumerate(raws)]
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    t1 = time.perf_counter()
    _line("produce acks=all idempotent", n / (t1 - t0), "msgs/s")
    consumer = KafkaConsumer(
        settings.topic("case-events"),
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=f"bench-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    got = 0
    t2 = time.perf_counter()
    deadline = t2 + 120
    while got < n and time.perf_counter() < deadline:
        for recs in consumer.poll(timeout_ms=500).values():
            for r in recs:
                decode(r.value)
                got += 1
    t3 = time.perf_counter()
    consumer.close()
    _line("consume + decode", got / (t3 - t2), "msgs/s", f"{got}/{n} read")
    # single-event round trip latency
    lat = []
    for i in range(50):
        s = time.perf_counter()
        producer.send_raw("case-events", b"lat", raws[i]).get(timeout=10)
        lat.append((time.perf_counter() - s) * 1000)
    producer.close()
    _line("produce round trip p50", statistics.median(lat), "ms", f"p95 {sorted(lat)[int(len(lat) * 0.95)]:.1f} ms")


def bench_outbox(settings: CommonSettings, n: int = 2000) -> None:
    from pymongo import MongoClient

    from shared import outbox
    from shared.kafka import Producer

    client: MongoClient = MongoClient(settings.mongo_uri)  # type: ignore[type-arg]
    db = client[f"bench_{uuid.uuid4().hex[:8]}"]
    try:
        coll = db.cases
        t0 = time.perf_counter()
        for i, ev in enumerate(_sessions(n, cases=n)):  # building the events stays inside the timing
            coll.update_one(
                {"_id": f"cs_{i}"},
                {"$set": {"v": 1}, "$push": outbox.push(outbox.entries("case-events", ev))},
                upsert=True,
            )
        t1 = time.perf_counter()
        producer = Producer(settings, client_id="bench-outbox")
        relay = outbox.OutboxRelay(producer, [coll], db.leases, "bench")
        t2 = time.perf_counter()
        published = 0
        while published < n and time.perf_counter() - t2 < 300:
            published += relay.run_once()
        t3 = time.perf_counter()
        producer.close()
        _line("write + outbox entry (one update_one)", n / (t1 - t0), "writes/s")
        _line("outbox relay publish", published / (t3 - t2), "events/s", f"{published}/{n}")
    finally:
        client.drop_database(db.name)
        client.close()


def main() -> None:
    settings = CommonSettings(
        kafka_bootstrap=os.environ.get("CENTINELA_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        mongo_uri=os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"),
        topic_prefix=f"bench{uuid.uuid4().hex[:6]}.",
        partitions=6,
    )
    print(f"centinela benchmark, {os.cpu_count()} cores, {datetime.now(UTC).isoformat(timespec='seconds')}")
    steps: list[tuple[str, Callable[[], None]]] = [
        ("codec", bench_codec),
        ("kafka", lambda: bench_kafka(settings)),
        ("outbox", lambda: bench_outbox(settings)),
    ]
    try:
        from tests.bench import processor_bench

        steps.append(("detector", processor_bench.run))
    except ImportError:
        pass
    for _, fn in steps:
        fn()


if __name__ == "__main__":
    main()
