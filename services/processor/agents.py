"""The agent: fold each case or legal event (or a deadline tick) into the case's state, evaluate
every rule, publish the alert facts that follow.

Crash safety: an alert fact is acknowledged by the broker *before* the state that records it is
written to the table, so a crash in between replays the input and re-sends the same fact (same
alert id, same event id) instead of losing it.

Batches: the agent works through the records waiting in its buffer (at most :data:`BATCH`) and
stages each case's new state (``tables.states``); when the buffer is empty or the batch full, it
writes each changed case once and only then marks the batch's records finished (acks them). A
record is never finished before the state that folded it is written (``tables.py``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from faust.types import EventT

from services.processor import metrics as m
from services.processor.app import app, now, progress, settings, watcher
from services.processor.domain.engine import step
from services.processor.retry import process
from services.processor.tables import fingerprint, heap, load, states, verify_partitions
from services.processor.topics import alerts_topic, dlq_topic, logical, source_topic
from services.processor.transport import mark_processed
from shared.events import CloudEvent, DecodeError, Event, decode, encode
from shared.events.alerts import AlertRaised, AlertResolved
from shared.kafka import dlq_record_headers
from shared.topics import ALERTS

log = logging.getLogger("centinela.processor")

# most records worked through before their states are written and they are marked finished
BATCH = 500
# turns of the event loop an empty buffer gets to fill up again before the batch ends
YIELDS = 4


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
    headers = dlq_record_headers(
        reason=reason,
        topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        group=app.conf.id,
        failed_at=now(),
    )
    fut = await dlq_topic(msg.topic).send(
        key=event.key, value=event.value if event.value is not None else b"", headers=headers
    )
    await fut
    m.events_dead_lettered.labels(logical(msg.topic)).inc()
    log.warning("record dead-lettered: %s", reason, extra={"topic": logical(msg.topic)})


async def handle(event: EventT) -> None:
    msg = event.message
    policy = watcher.policy  # one policy for the whole step and the deadline stored with it
    if logical(msg.topic) == "ticks":
        case_id = (event.key or b"").decode("utf-8", "replace")
        state = load(case_id, msg.partition)
        if state is None:
            heap.schedule(case_id, None, msg.partition)  # nothing to look at: no re-send of this tick
            return
        with m.rule_evaluation.time():
            result = step(state, None, now(), policy, partition=msg.partition)
    elif logical(msg.topic) == ALERTS:
        resolution = _manual_resolution(event.value)
        if resolution is None:
            return  # the processor's own facts, escalations, acknowledgements: nothing to fold
        case_id = resolution.case_id
        state = load(case_id, msg.partition)
        if state is None:
            return
        with m.rule_evaluation.time():
            result = step(state, resolution, now(), policy, partition=msg.partition)
        if not result.applied:
            m.events_duplicate.labels(ALERTS).inc()
            return
        m.manual_resolutions.labels(resolution.payload.rule).inc()  # type: ignore[attr-defined]
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
        state = load(case_id, msg.partition)
        with m.rule_evaluation.time():
            result = step(state, decoded, now(), policy, partition=msg.partition)
        if not result.applied:
            m.events_duplicate.labels(logical(msg.topic)).inc()
            return
    if result.emissions:
        await publish(result.emissions)
    # step hands back the state it was given when nothing changed; a tick is written all the same,
    # for the stored next deadline (the heap is rebuilt from those after a restart or a takeover)
    if result.state is not state or logical(msg.topic) == "ticks":
        verify_partitions(msg.topic)
        states.stage(case_id, result.state, msg.partition, result.next_due, fingerprint(policy))
    heap.schedule(case_id, result.next_due, msg.partition)


def _manual_resolution(value: object) -> Event | None:
    """A ``centinela.alert.resolved`` a person made (``auto: false``), else None. Undecodable records
    on `alerts` are the alerts service's to dead-letter, not ours."""
    if not isinstance(value, bytes | bytearray) or b'"centinela.alert.resolved"' not in value:
        return None  # cheap filter: most records on `alerts` are not resolutions
    try:
        decoded = decode(bytes(value))
    except DecodeError:
        return None
    payload = decoded.payload
    return decoded if isinstance(payload, AlertResolved) and not payload.auto else None


@app.agent(source_topic)
async def evaluate(stream: Any) -> None:
    # the agent acks its records itself, after their states are written (finish); records faust
    # skips around a rebalance it still acks, and the transport does not count those as finished
    stream.enable_acks = False
    pending: list[tuple[EventT, str]] = []
    async for event in stream.events():
        topic = logical(event.message.topic)
        await process(
            event,
            topic,
            handle,
            dead_letter_or_drop,
            progress,
            max_attempts=settings.processor_max_attempts,
        )
        pending.append((event, topic))
        if len(pending) >= BATCH or await _drained(stream):
            await finish(stream, pending)


async def finish(stream: Any, pending: list[tuple[EventT, str]]) -> None:
    """Write the batch's states (one changelog record per case), then mark its records finished."""
    await states.flush()
    for event, topic in pending:
        # only now may faust ack (and later commit) this offset: a record it skips around a
        # rebalance is never marked, so it is read again (services/processor/transport.py, point 3)
        mark_processed(app.consumer, event.message)
        await stream.ack(event)
        _processed.inc(topic)
    pending.clear()
    m.heap_size.set(len(heap))


async def _drained(stream: Any) -> bool:
    """Has the buffer run dry? The consumer hands records over one at a time, in turn with this
    agent, so an empty buffer is first given a few turns of the event loop to fill up again."""
    for _ in range(YIELDS):
        if not _buffer_empty(stream):
            return False
        await asyncio.sleep(0)
    return _buffer_empty(stream)


def _buffer_empty(stream: Any) -> bool:
    """Nothing more waiting in the agent's buffer (then the batch ends here; unknown: end it)."""
    queue = getattr(getattr(stream, "channel", None), "queue", None)
    empty = getattr(queue, "empty", None)
    return True if empty is None else bool(empty())


class _Counters:
    """``events_processed`` per topic, its labelled children looked up once."""

    def __init__(self) -> None:
        self._children: dict[str, Any] = {}

    def inc(self, topic: str) -> None:
        child = self._children.get(topic)
        if child is None:
            child = self._children[topic] = m.events_processed.labels(topic)
        child.inc()


_processed = _Counters()


async def dead_letter_or_drop(event: EventT, reason: str) -> None:
    """Poison input goes to its ``.dlq``; a tick that cannot be evaluated is only counted and logged
    (it is ours, not input: the case's next event or the policy reload re-evaluates it)."""
    if logical(event.message.topic) == "ticks":
        m.events_dead_lettered.labels("ticks").inc()
        log.error("a deadline tick could not be evaluated: %s", reason, extra={"topic": "ticks"})
        heap.schedule((event.key or b"").decode("utf-8", "replace"), None, event.message.partition)
        return
    await dead_letter(event, reason)
