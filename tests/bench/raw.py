"""Baselines of the same run: raw produce/consume on the broker (aiokafka, kafka-python) and raw
single-document and batch writes on the database; then the outbox write path at 1k / 100k / 1M
stored documents, against those baselines."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from pymongo import MongoClient

from shared.events import encode, new_event
from shared.events.case import SessionRecorded
from tests.bench.common import PARTITIONS, Bench, Row, section

Baselines = dict[str, float]


def _payloads(n: int) -> list[bytes]:
    now = datetime.now(UTC)
    one = encode(
        new_event(
            SessionRecorded(
                case_id="cs_0",
                service_id="sv",
                session_id="ss0",
                service_kind="psychosocial",
                outcome="attended",
                occurred_at=now,
                recorded_at=now,
            )
        )
    )
    return [one] * n  # the same ~500 B CloudEvent: the client's cost, not the codec's


async def _aiokafka(bootstrap: str, topic: str, n: int) -> tuple[float, float]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    values = _payloads(n)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        t0 = time.perf_counter()
        futures = [await producer.send(topic, v, key=f"cs_{i % 1000}".encode()) for i, v in enumerate(values)]
        await asyncio.gather(*futures)
        produce = n / (time.perf_counter() - t0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        got = 0
        t0 = time.perf_counter()
        deadline = t0 + 120
        while got < n and time.perf_counter() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10000)
            got += sum(len(v) for v in batch.values())
        consume = got / (time.perf_counter() - t0)
    finally:
        await consumer.stop()
    return produce, consume


def _kafka_python(bootstrap: str, topic: str, n: int) -> tuple[float, float]:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    values = _payloads(n)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    try:
        t0 = time.perf_counter()
        for i, v in enumerate(values):
            producer.send(topic, v, key=f"cs_{i % 1000}".encode())
        producer.flush(120)
        produce = n / (time.perf_counter() - t0)
    finally:
        producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        got = 0
        t0 = time.perf_counter()
        deadline = t0 + 120
        while got < n and time.perf_counter() < deadline:
            got += sum(len(v) for v in consumer.poll(timeout_ms=500, max_records=10000).values())
        consume = got / (time.perf_counter() - t0)
    finally:
        consumer.close()
    return produce, consume


def broker(bench: Bench, base: Baselines) -> None:
    n = bench.sizes["raw_msgs"]
    with section(bench, f"raw broker baselines ({n:,} messages of ~500 B, acks=all)"):
        env = bench.namespace("raw")
        topic_a = env["CENTINELA_TOPIC_PREFIX"] + "case-events"
        topic_k = env["CENTINELA_TOPIC_PREFIX"] + "legal-events"
        p, c = asyncio.run(_aiokafka(bench.bootstrap, topic_a, n))
        base["aiokafka_produce"], base["aiokafka_consume"] = p, c
        bench.add(Row("baseline", "raw produce, aiokafka", p, "msgs/s"))
        bench.add(Row("baseline", "raw consume, aiokafka", c, "msgs/s"))
        p, c = _kafka_python(bench.bootstrap, topic_k, n)
        base["kafka_python_produce"], base["kafka_python_consume"] = p, c
        bench.add(Row("baseline", "raw produce, kafka-python", p, "msgs/s"))
        bench.add(Row("baseline", "raw consume, kafka-python", c, "msgs/s"))


def database(bench: Bench, base: Baselines) -> None:
    n = bench.sizes["raw_docs"]
    with section(
        bench,
        f"raw database baselines ({n:,} single inserts or {bench.sizes['write_seconds']}s, {n * 10:,} in batches)",
    ):
        client: MongoClient[Any] = MongoClient(bench.mongo_uri)
        coll = client[bench.db("raw")]["raw"]
        try:
            t0 = time.perf_counter()
            done = 0
            while done < n and time.perf_counter() - t0 < bench.sizes["write_seconds"]:
                coll.insert_one({"_id": done, "v": "x" * 400})
                done += 1
            base["insert_one"] = done / (time.perf_counter() - t0)
            t0 = time.perf_counter()
            for b in range(10):
                coll.insert_many([{"_id": n + b * n + i, "v": "x" * 400} for i in range(n)], ordered=False)
            base["insert_many"] = n * 10 / (time.perf_counter() - t0)
        finally:
            client.drop_database(coll.database.name)
            client.close()
        bench.add(Row("baseline", "raw insert_one (one client)", base["insert_one"], "docs/s"))
        bench.add(Row("baseline", "raw insert_many (batches)", base["insert_many"], "docs/s"))


def outbox_levels(bench: Bench, base: Baselines) -> None:
    """Write + outbox entry (one ``update_one`` with ``$push``) with 1k / 100k / 1M documents stored."""
    from shared import outbox
    from shared.kafka import Producer

    levels = [bench.sizes["docs_small"], bench.sizes["docs_mid"], bench.sizes["docs_large"]]
    n = bench.sizes["outbox_writes"]
    with section(bench, f"write + outbox at {', '.join(f'{x:,}' for x in levels)} stored documents"):
        env = bench.namespace("outbox")
        settings = bench.settings(env["CENTINELA_TOPIC_PREFIX"])
        client: MongoClient[Any] = MongoClient(bench.mongo_uri)
        db = client[bench.db("outbox")]
        coll = db["cases"]
        outbox.ensure_outbox_index(coll)
        producer = Producer(settings, client_id="bench-outbox")
        relay = outbox.OutboxRelay(producer, [coll], db["leases"], "bench")
        stored = 0
        now = datetime.now(UTC)
        try:
            for level in levels:
                t_load = time.perf_counter()
                budget = bench.sizes["load_budget"]
                while stored < level and time.perf_counter() - t_load < budget:
                    k = min(5000, level - stored)
                    coll.insert_many(
                        [{"_id": f"fill-{stored + i}", "org_id": "org", "v": "x" * 400} for i in range(k)],
                        ordered=False,
                    )
                    stored += k
                    if stored % 100_000 < k:
                        bench.progress(f"  loaded {stored:,} documents")
                load_s = time.perf_counter() - t_load
                target, level = level, stored
                short = (
                    f"; {target:,} NOT reached in the {budget}s load budget: measured at {level:,}"
                    if level < target
                    else ""
                )
                events = [
                    SessionRecorded(
                        case_id=f"cs-{level}-{i}",
                        service_id="sv",
                        session_id=f"ss{i}",
                        service_kind="psychosocial",
                        outcome="attended",
                        occurred_at=now,
                        recorded_at=now,
                    )
                    for i in range(n)
                ]
                t0 = time.perf_counter()
                done = 0
                for i, ev in enumerate(events):  # n writes, or as many as fit in write_seconds
                    if time.perf_counter() - t0 > bench.sizes["write_seconds"]:
                        break
                    coll.update_one(
                        {"_id": f"cs-{level}-{i}"},
                        {"$set": {"v": 1}, "$push": outbox.push(outbox.entries("case-events", ev))},
                        upsert=True,
                    )
                    done += 1
                writes = done / (time.perf_counter() - t0)
                stored += done
                t0 = time.perf_counter()
                published = 0
                while published < done and time.perf_counter() - t0 < 300:
                    published += relay.run_once()
                relay_rate = published / (time.perf_counter() - t0)
                note = f"{done} writes; {level:,} stored (loaded at {level / max(load_s, 1e-9):,.0f} docs/s){short}"
                bench.add(
                    Row(
                        "write path",
                        f"write + outbox entry @ {target:,} docs",
                        writes,
                        "writes/s",
                        goal=2000,
                        baseline=base.get("insert_one"),
                        baseline_name="raw insert_one",
                        note=note,
                    )
                )
                bench.add(
                    Row(
                        "write path",
                        f"outbox relay publish @ {target:,} docs",
                        relay_rate,
                        "events/s",
                        baseline=base.get("kafka_python_produce"),
                        baseline_name="raw produce, kafka-python",
                        note=f"{published}/{done} published",
                    )
                )
        finally:
            producer.close()
            client.drop_database(db.name)
            client.close()


def run(bench: Bench, base: Baselines) -> None:
    """The baselines (first: everything else is judged against them)."""
    broker(bench, base)
    database(bench, base)
