"""The ``case-state`` table and this worker's deadline heap, which is derived from it.

The table holds each case's folded state (domain.state.CaseState as JSON), in memory, recovered
from its changelog topic. The heap says when each case owned by this worker must next be looked
at; it is rebuilt from the table after every recovery (each rebalance) and after a policy change,
and trimmed when partitions are revoked.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import faust
from faust.types import TP

from services.processor import metrics as m
from services.processor.app import app, now, progress, settings, watcher
from services.processor.deadlines import DeadlineHeap
from services.processor.domain.engine import due_for
from services.processor.domain.state import CaseState
from services.processor.topics import case_topic_name

log = logging.getLogger("centinela.processor")

case_state = app.Table(
    "case-state",
    default=None,
    partitions=settings.partitions,
    schema=faust.Schema(key_serializer="json", value_serializer="json"),
    help="per-case folded state (services.processor.domain.state.CaseState as JSON)",
)

heap = DeadlineHeap(retry_after=timedelta(seconds=settings.processor_tick_retry_seconds))


def load(case_id: str) -> CaseState | None:
    doc = case_state.get(case_id)
    return CaseState.from_json(doc) if doc else None


def active_partitions() -> set[int]:
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == case_topic_name}


def rebuild_heap() -> None:
    """Reschedule every case of the partitions this worker owns (after recovery, rebalance, policy change)."""
    partitions = active_partitions()
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
    m.partitions_assigned.set(len(partitions))
    progress.progressed()  # a rebalance is not a stall: the idle clock starts again now
    log.info("deadline heap rebuilt: %d cases scheduled over partitions %s", len(heap), sorted(partitions))


@case_state.on_recover
async def _on_recovered() -> None:
    rebuild_heap()


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _on_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
    heap.drop_partitions({tp.partition for tp in revoked if tp.topic == case_topic_name})
    m.heap_size.set(len(heap))
    m.partitions_assigned.set(0)
    m.consumer_lag.clear()
