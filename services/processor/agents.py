"""The agent: fold each case or legal event (or a deadline tick) into the case's state, evaluate
every rule, publish the alert facts that follow.

Crash safety: an alert fact is acknowledged by the broker *before* the state that records it is
written to the table, so a crash in between replays the input and re-sends the same fact (same
alert id, same event id) instead of losing it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.types import EventT

from services.processor import metrics as m
from services.processor.app import app, now, watcher
from services.processor.domain.engine import step
from services.processor.tables import case_state, heap, load
from services.processor.topics import alerts_topic, dlq_topic, logical, source_topic
from shared.events import CloudEvent, DecodeError, decode, encode
from shared.events.alerts import AlertRaised, AlertResolved

log = logging.getLogger("centinela.processor")

MAX_ATTEMPTS = 5


async def publish(emissions: list[CloudEvent]) -> None:
    """Send the lifecycle facts and wait for the broker's ack (before the state records them)."""
    pending = []
    for envelope in emissions:
        fut = await alerts_topic.send(key=envelope.subject.encode("utf-8"), value=encode(envelope))
        pending.append(fut)
    for fut in pending:
        await fut
    for envelope in emissions:
        data = envelope.data
        if envelope.type == AlertRaised.TYPE:
            m.alerts_raised.labels(data["rule"], data["severity"]).inc()
        elif envelope.type == AlertResolved.TYPE:
            m.alerts_resolved.labels(data["rule"], data.get("severity") or "unknown").inc()


async def dead_letter(event: EventT, reason: str) -> None:
    msg = event.message
    headers = [
        ("dlq.reason", reason.encode()[:1000]),
        ("dlq.source.topic", msg.topic.encode()),
        ("dlq.source.partition", str(msg.partition).encode()),
        ("dlq.source.offset", str(msg.offset).encode()),
        ("dlq.consumer.group", app.conf.id.encode()),
        ("dlq.failed_at", now().isoformat().encode()),
    ]
    fut = await dlq_topic(msg.topic).send(
        key=event.key, value=event.value if event.value is not None else b"", headers=headers
    )
    await fut
    m.events_dead_lettered.labels(logical(msg.topic)).inc()
    log.warning("record dead-lettered: %s", reason, extra={"topic": logical(msg.topic)})


async def handle(event: EventT) -> None:
    msg = event.message
    if logical(msg.topic) == "ticks":
        case_id = (event.key or b"").decode("utf-8", "replace")
        state = load(case_id)
        if state is None:
            heap.schedule(case_id, None, msg.partition)  # nothing to look at: no re-send of this tick
            return
        with m.rule_evaluation.time():
            result = step(state, None, now(), watcher.policy, partition=msg.partition)
    else:
        if not isinstance(event.value, bytes | bytearray) or not event.value:
            await dead_letter(event, "empty record")
            return
        try:
            decoded = decode(bytes(event.value))
        except DecodeError as exc:
            await dead_letter(event, exc.reason)
            return
        case_id = decoded.case_id
        state = load(case_id)
        with m.rule_evaluation.time():
            result = step(state, decoded, now(), watcher.policy, partition=msg.partition)
        if not result.applied:
            m.events_duplicate.labels(logical(msg.topic)).inc()
            return
    if result.emissions:
        await publish(result.emissions)
    if result.state != state:
        case_state[case_id] = result.state.to_json()
    heap.schedule(case_id, result.next_due, msg.partition)
    m.heap_size.set(len(heap))


@app.agent(source_topic)
async def evaluate(stream: Any) -> None:
    async for event in stream.events():
        topic = logical(event.message.topic)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await handle(event)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # transient (broker) or a bug: retry, then park the record in the DLQ
                log.warning(
                    "processing failed (attempt %d/%d): %s", attempt, MAX_ATTEMPTS, type(exc).__name__, exc_info=True
                )
                if attempt == MAX_ATTEMPTS:
                    if topic != "ticks":
                        await dead_letter(event, f"processing failed: {type(exc).__name__}")
                    break
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        m.events_processed.labels(topic).inc()
