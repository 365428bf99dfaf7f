"""Bus smoke agent: reads ``case-events`` as raw bytes, decodes with the shared codec.

Decoded payloads are appended as JSON lines to ``$BUS_AGENT_OUT``; poison goes to
``case-events.dlq`` with the same headers as shared.consumer.PartitionedConsumer, and the agent keeps going.

    BUS_AGENT_OUT=/tmp/out.jsonl BUS_AGENT_DATADIR=/tmp/agent python -m tests.e2e.bus_agent worker --web-port N
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import faust

from shared.events import DecodeError, decode
from shared.settings import CommonSettings
from shared.topics import CASE_EVENTS, dlq

settings = CommonSettings(service_name="bus-smoke")
OUT = os.environ["BUS_AGENT_OUT"]

app = faust.App(
    settings.topic("bus-smoke-agent"),  # unique per test session: the prefix is random
    broker=[f"kafka://{s.strip()}" for s in settings.kafka_bootstrap.split(",")],
    datadir=os.environ["BUS_AGENT_DATADIR"],
    store="memory://",
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    consumer_auto_offset_reset="earliest",
    producer_acks=-1,
    web_enabled=True,
)

source = app.topic(
    settings.topic(CASE_EVENTS), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
dead_letters = app.topic(
    settings.topic(dlq(CASE_EVENTS)), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)


def _write(line: dict[str, Any]) -> None:
    with open(OUT, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
        fh.flush()


@app.agent(source)
async def decode_case_events(stream: Any) -> None:
    async for event in stream.events():
        message = event.message
        try:
            decoded = decode(event.value)
        except DecodeError as exc:
            await dead_letters.send(
                key=event.key,
                value=event.value,
                headers=[
                    ("dlq.reason", exc.reason.encode()[:1000]),
                    ("dlq.source.topic", message.topic.encode()),
                    ("dlq.source.partition", str(message.partition).encode()),
                    ("dlq.source.offset", str(message.offset).encode()),
                    ("dlq.consumer.group", app.conf.id.encode()),
                    ("dlq.failed_at", datetime.now(UTC).isoformat().encode()),
                ],
            )
            _write({"dead_lettered": True, "partition": message.partition, "offset": message.offset})
            continue
        _write(
            {
                "id": decoded.id,
                "type": decoded.type,
                "key": (event.key or b"").decode(),
                "partition": message.partition,
                "offset": message.offset,
                "payload": json.loads(decoded.payload.model_dump_json()),
            }
        )
