"""faust app: folds case and legal events into per-case state and evaluates the rules.

Topology (every topic has ``settings.partitions`` partitions and is keyed by case_id)::

    case-events ─┐
    legal-events ├─► agent `evaluate` ──► table case-state (changelog) ──► alerts
    <ticks> ─────┘        ▲
                          └── timer: pops due deadlines from this worker's heap, sends one tick per case

One agent reads all three topics so that every write to a case's state is serialised. The timer
never writes the table (faust forbids it): it only sends a tick to the co-partitioned ticks topic,
on the same partition as the case, and the agent re-evaluates the case on wall-clock time.

Crash safety: an alert fact is acknowledged by the broker *before* the state that records it is
written to the table, so a crash in between replays the input and re-sends the same fact (same
alert id, same event id) instead of losing it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.types import TP, EventT, TransportT

from services.processor import metrics as m
from services.processor.deadlines import DeadlineHeap
from services.processor.domain.engine import due_for, step
from services.processor.domain.policy import PolicyError, PolicyWatcher
from services.processor.domain.state import CaseState
from services.processor.settings import AlertsSettings
from services.processor.transport import Transport
from services.processor.web import Web
from shared.events import DecodeError, decode, encode
from shared.events.alerts import AlertRaised, AlertResolved
from shared.metrics import metrics_payload
from shared.topics import ALERTS, CASE_EVENTS, LEGAL_EVENTS, dlq

log = logging.getLogger("centinela.alerts.processor")

ROOT = Path(__file__).resolve().parents[3]
TICKS = "centinela-alerts-processor-ticks"
MAX_ATTEMPTS = 5

settings = AlertsSettings()


def _broker(bootstrap: str) -> list[str]:
    return [f"kafka://{s.strip()}" for s in bootstrap.split(",")]


def _in_root(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def _datadir() -> Path:
    # faust only mkdirs the last level; keep it out of the repo root (gitignored .run/)
    d = _in_root(settings.processor_datadir)
    d.mkdir(parents=True, exist_ok=True)
    return d


def _policy_path() -> Path:
    p = Path(settings.policy_file)
    return p if p.is_absolute() or p.exists() else _in_root(settings.policy_file)


def now() -> datetime:
    """Stalls are absences: always wall-clock time, never stream time."""
    return datetime.now(UTC)


class ProcessorApp(faust.App):
    def _new_transport(self) -> TransportT:
        # faust's aiokafka driver with the rewind fix of services.processor.transport
        return Transport(self.conf.broker_consumer, self)

    def _new_web(self) -> Web:
        # only /metrics, /healthz, /readyz, bound where the operator said (services.processor.web)
        web = Web(self)
        web.configured_host = settings.processor_web_host
        return web


app = ProcessorApp(
    settings.topic("centinela-alerts-processor"),
    broker=_broker(settings.kafka_bootstrap),
    store="memory://",
    datadir=str(_datadir()),
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    topic_allow_declare=True,
    web_host=settings.processor_web_host,
    web_bind=settings.processor_web_host,
    producer_acks=-1,
    consumer_auto_offset_reset="earliest",
    broker_session_timeout=settings.processor_session_timeout_seconds,
    # standbys of a memory store buy little: recovery re-reads the changelog anyway
    table_standby_replicas=0,
)

_raw: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
case_topic_name = settings.topic(CASE_EVENTS)
legal_topic_name = settings.topic(LEGAL_EVENTS)
ticks_topic_name = settings.topic(TICKS)

# Raw bytes in and out: the shared codec decodes and encodes (no faust metadata on the wire).
case_events_topic = app.topic(case_topic_name, **_raw)
legal_events_topic = app.topic(legal_topic_name, **_raw)
ticks_topic = app.topic(ticks_topic_name, partitions=settings.partitions, internal=True, **_raw)
# internal=True: faust declares (creates if missing) the ticks topic, with the case topics' partition count;
# the catalogue topics already exist (shared.topics) and are left untouched.
source_topic = app.topic(
    case_topic_name, legal_topic_name, ticks_topic_name, partitions=settings.partitions, internal=True, **_raw
)
alerts_topic = app.topic(settings.topic(ALERTS), **_raw)

case_state = app.Table(
    "case-state",
    default=None,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
    help="per-case folded state (services.processor.domain.state.CaseState as JSON)",
)

watcher = PolicyWatcher(_policy_path())
m.policy_loaded_at.set(time.time())
heap = DeadlineHeap()
_last_policy_error: str | None = None


def _logical(topic: str) -> str:
    name = (
        topic[len(settings.topic_prefix) :]
        if settings.topic_prefix and topic.startswith(settings.topic_prefix)
        else topic
    )
    return "ticks" if name == TICKS else name


def _load(case_id: str) -> CaseState | None:
    doc = case_state.get(case_id)
    return CaseState.from_json(doc) if doc else None


def _active_partitions() -> set[int]:
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == case_topic_name}


async def _publish(emissions: list[Any]) -> None:
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


async def _dead_letter(event: EventT, reason: str) -> None:
    msg = event.message
    headers = [
        ("dlq.reason", reason.encode()[:1000]),
        ("dlq.source.topic", msg.topic.encode()),
        ("dlq.source.partition", str(msg.partition).encode()),
        ("dlq.source.offset", str(msg.offset).encode()),
        ("dlq.consumer.group", app.conf.id.encode()),
        ("dlq.failed_at", now().isoformat().encode()),
    ]
    topic = app.topic(settings.topic(dlq(_logical(msg.topic))), **_raw)
    fut = await topic.send(key=event.key, value=event.value if event.value is not None else b"", headers=headers)
    await fut
    m.events_dead_lettered.labels(_logical(msg.topic)).inc()
    log.warning("record dead-lettered: %s", reason, extra={"topic": _logical(msg.topic)})


async def _handle(event: EventT) -> None:
    msg = event.message
    logical = _logical(msg.topic)
    if logical == "ticks":
        case_id = (event.key or b"").decode("utf-8", "replace")
        state = _load(case_id)
        if state is None:
            return
        with m.rule_evaluation.time():
            result = step(state, None, now(), watcher.policy, partition=msg.partition)
    else:
        if not isinstance(event.value, bytes | bytearray) or not event.value:
            await _dead_letter(event, "empty record")
            return
        try:
            decoded = decode(bytes(event.value))
        except DecodeError as exc:
            await _dead_letter(event, exc.reason)
            return
        case_id = decoded.case_id
        state = _load(case_id)
        with m.rule_evaluation.time():
            result = step(state, decoded, now(), watcher.policy, partition=msg.partition)
        if not result.applied:
            m.events_duplicate.labels(logical).inc()
            return
    if result.emissions:
        await _publish(result.emissions)
    if result.state != state:
        case_state[case_id] = result.state.to_json()
    heap.schedule(case_id, result.next_due, msg.partition)
    m.heap_size.set(len(heap))


@app.agent(source_topic)
async def evaluate(stream: Any) -> None:
    async for event in stream.events():
        logical = _logical(event.message.topic)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await _handle(event)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # transient (broker) or a bug: retry, then park the record in the DLQ
                log.warning(
                    "processing failed (attempt %d/%d): %s", attempt, MAX_ATTEMPTS, type(exc).__name__, exc_info=True
                )
                if attempt == MAX_ATTEMPTS:
                    if logical != "ticks":
                        await _dead_letter(event, f"processing failed: {type(exc).__name__}")
                    break
                await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
        m.events_processed.labels(logical).inc()


def rebuild_heap() -> None:
    """Reschedule every case of the partitions this worker owns (after recovery, rebalance, policy change)."""
    partitions = _active_partitions()
    t = now()
    policy = watcher.policy
    entries = []
    for case_id, doc in list(case_state.data.items()):
        if not doc:
            continue
        state = CaseState.from_json(doc)
        if state.partition is None or state.partition not in partitions:
            continue  # a standby copy or a partition that moved away
        entries.append((case_id, due_for(state, t, policy), state.partition))
    heap.rebuild(entries)
    m.heap_size.set(len(heap))
    log.info("deadline heap rebuilt: %d cases scheduled over partitions %s", len(heap), sorted(partitions))


@case_state.on_recover
async def _on_recovered() -> None:
    rebuild_heap()


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _on_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
    heap.drop_partitions({tp.partition for tp in revoked if tp.topic == case_topic_name})
    m.heap_size.set(len(heap))


def _check_policy() -> None:
    global _last_policy_error
    if watcher.check():
        m.policy_reloads.inc()
        m.policy_loaded_at.set(time.time())
        _last_policy_error = None
        log.warning("alert policy reloaded from %s", watcher.path)
        rebuild_heap()
    elif watcher.last_error and watcher.last_error != _last_policy_error:
        _last_policy_error = watcher.last_error
        m.policy_reload_errors.inc()
        log.error("alert policy change refused, previous policy stays in force: %s", watcher.last_error)


@app.timer(interval=settings.processor_tick_seconds)
async def detect_stalls() -> None:
    try:
        _check_policy()
    except PolicyError:  # defensive: check() already swallows validation errors
        log.exception("policy check failed")
    due = heap.pop_due(now(), limit=settings.processor_max_ticks)
    for case_id, due_at, partition in due:
        try:
            await ticks_topic.send(
                key=case_id.encode("utf-8"),
                value=json.dumps({"due_at": due_at.isoformat()}).encode(),
                partition=partition,
            )
            m.ticks_sent.inc()
        except Exception:
            heap.schedule(case_id, due_at, partition)  # try again next tick
            log.warning("could not send a deadline tick; retrying next tick", exc_info=True)
    m.heap_size.set(len(heap))
    m.last_tick.set(time.time())


@app.page("/metrics")
async def metrics_page(web: Any, request: Any) -> Any:
    return web.bytes(metrics_payload(), content_type="text/plain; version=0.0.4")


@app.page("/healthz")
async def healthz(web: Any, request: Any) -> Any:
    return web.json({"status": "ok"})


@app.page("/readyz")
async def readyz(web: Any, request: Any) -> Any:
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    recovered = recovery.completed.is_set() and not app.rebalancing
    return web.json({"status": "ready" if recovered else "recovering"}, status=200 if recovered else 503)
