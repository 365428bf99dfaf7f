"""The stall detector: on wall-clock time, turn this worker's due deadlines into ticks.

Stalls are the absence of events, so nothing in the input says "now it is late". Every
``CENTINELA_PROCESSOR_TICK_SECONDS`` the timer pops the due entries of the deadline heap (cost
grows with the deadlines due, not the open cases) and sends one tick per case to the ticks topic,
on the case's partition. It never writes the table (faust forbids it from a timer): the agent
re-evaluates the case when the tick arrives. It also applies a changed policy file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from faust.types import TP

from services.processor import metrics as m
from services.processor.app import app, now, progress, settings, watcher
from services.processor.domain.policy import PolicyError
from services.processor.tables import heap, rebuild_heap
from services.processor.topics import logical, source_topic, ticks_topic, ticks_topic_name

log = logging.getLogger("centinela.processor")

_last_policy_error: str | None = None
_last_stuck: list[str | None] = [None]
m.policy_loaded_at.set(time.time())


def check_policy() -> None:
    global _last_policy_error
    if watcher.check():
        m.policy_reloads.inc()
        m.policy_loaded_at.set(time.time())
        _last_policy_error = None
        log.warning("alert policy reloaded from %s; in force: %s", watcher.path, watcher.policy.summary())
        rebuild_heap(policy_changed=True)
    elif watcher.last_error and watcher.last_error != _last_policy_error:
        _last_policy_error = watcher.last_error
        m.policy_reload_errors.inc()
        log.error("alert policy change refused, previous policy stays in force: %s", watcher.last_error)


def measure_lag() -> None:
    """Per owned input partition: log end offset minus the next offset this worker will process."""
    consumer = app.consumer
    sources = set(source_topic.topics)
    total = 0
    for tp in app.assignor.assigned_actives():
        if tp.topic not in sources:
            continue
        try:
            end = consumer.highwater(tp)
        except Exception:  # not fetched yet, or the assignment just changed: measured next tick
            end = None
        if end is None:
            continue
        # the next offset the agent must get: the transport knows it exactly (after a seek too)
        holes = getattr(consumer, "holes", None)
        position = holes.expected(tp) if holes is not None else None
        if position is None:
            read = consumer._read_offset.get(tp)  # type: ignore[attr-defined]  # faust keeps no public reader
            position = read + 1 if read is not None else end
        lag = max(0, end - position)
        total += lag
        m.consumer_lag.labels(logical(tp.topic), str(tp.partition)).set(lag)
    progress.observe_lag(total)
    m.standby_lag.set(standby_lag())


def standby_lag() -> int:
    """Changelog records the standby copies still have to read to reach the end measured when they
    started; -1 while a standby partition's end is not measured yet (just after a rebalance)."""
    recovery = app.tables.recovery  # type: ignore[attr-defined]  # on faust's TableManager, not its interface
    highwaters, offsets = recovery.standby_highwaters, recovery.standby_offsets
    total = 0
    for tp in recovery.standby_tps:
        end = highwaters.get(tp)
        if end is None:
            return -1
        read = offsets.get(tp)
        total += max(0, end - (-1 if read is None else read))  # -1: nothing read yet
    return total


def tick_queued(partition: int, offset: int) -> bool:
    """Is the tick at ``offset`` still ahead of the agent (not handed to it yet)? Then it is late, not lost."""
    holes = getattr(app.consumer, "holes", None)
    expected = holes.expected(TP(ticks_topic_name, partition)) if holes is not None else None
    return expected is not None and expected <= offset


def _remember_offset(case_id: str, due_at: datetime) -> Callable[[asyncio.Future[Any]], None]:
    def done(fut: asyncio.Future[Any]) -> None:
        if not fut.cancelled() and fut.exception() is None:
            heap.sent(case_id, due_at, fut.result().offset)

    return done


@app.task
async def log_policy_in_force() -> None:
    """Once the worker's logging is set up: what the rules will do here (defaults plus the file's overrides)."""
    # warning, not info: the stack runs the worker at -l warn and operators must see it
    log.warning("alert policy in force (* = set by the policy file): %s", watcher.policy.summary())


@app.timer(interval=settings.processor_tick_seconds)
async def detect_stalls() -> None:
    try:
        check_policy()
    except PolicyError:  # defensive: check() already swallows validation errors
        log.exception("policy check failed")
    retried = heap.retried
    due = heap.pop_due(now(), limit=settings.processor_max_ticks, queued=tick_queued)
    if heap.retried > retried:
        m.ticks_retried.inc(heap.retried - retried)
        log.warning("%d deadline ticks not answered in time; sent again", heap.retried - retried)
    for case_id, due_at, partition in due:
        try:
            fut = await ticks_topic.send(
                key=case_id.encode("utf-8"),
                value=json.dumps({"due_at": due_at.isoformat()}).encode(),
                partition=partition,
            )
            cast(asyncio.Future[Any], fut).add_done_callback(_remember_offset(case_id, due_at))
            m.ticks_sent.inc()
        except Exception:
            heap.schedule(case_id, due_at, partition)  # try again next tick
            log.warning("could not send a deadline tick; retrying next tick", exc_info=True)
    m.heap_size.set(len(heap))
    m.last_tick.set(time.time())
    if not app.rebalancing:
        measure_lag()
    stuck = progress.stuck
    m.consumer_stuck.set(1 if stuck else 0)
    if stuck and stuck != _last_stuck[0]:
        log.error("processor stuck: %s", stuck, extra={"reason": "stuck"})
    _last_stuck[0] = stuck
