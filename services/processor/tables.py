"""The ``case-state`` table and this worker's deadline heap, which is derived from it.

The table holds each case's folded state (domain.state.CaseState as JSON bytes), in memory,
recovered from its changelog topic. The heap says when each case owned by this worker must next be
looked at; it is rebuilt from the table after every recovery (each rebalance) and after a policy
change, and trimmed when partitions are revoked.

Writes go through :data:`states`, not ``case_state[...] = ...``: the agent *stages* each new state
while it works through the records at hand and :meth:`StateWriter.flush` writes each changed case
once (one changelog record per case and batch, not per event) before the agent marks the batch's
records finished. Offsets are committed only for finished records, and faust flushes the producer
(changelog records included) before it commits, so a committed offset never runs ahead of the state
that folded it. A crash before the flush loses only states whose records are not finished, so not
committed, so read and folded again.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
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
    # the value is the state's JSON, kept as bytes: serialised once per write (CaseState.to_bytes:
    # pydantic's JSON without the fields at their defaults), parsed only when a case is looked at;
    # older records (every field, the event-id list) still load (CaseState migrates them on read)
    schema=faust.Schema(key_serializer="json", value_serializer="raw"),
    help="per-case folded state (services.processor.domain.state.CaseState as JSON)",
)

heap = DeadlineHeap(retry_after=timedelta(seconds=settings.processor_tick_retry_seconds))

# cases kept parsed between events (the most recently used); the table keeps every case as bytes
LIVE_CASES = 10_000


def _parse(doc: object) -> CaseState | None:
    if not doc:
        return None
    if isinstance(doc, bytes | bytearray | str):
        return CaseState.from_bytes(doc)
    return CaseState.from_json(doc)  # a JSON object (what a table test or an older store may hold)


class StateWriter:
    """The agent's view of the table: staged states first, then parsed ones, then the stored bytes."""

    def __init__(self, live_cases: int = LIVE_CASES) -> None:
        self._staged: dict[str, tuple[int, CaseState]] = {}
        self._live: OrderedDict[str, CaseState] = OrderedDict()
        self._live_cases = live_cases

    def load(self, case_id: str) -> CaseState | None:
        staged = self._staged.get(case_id)
        if staged is not None:
            return staged[1]
        state = self._live.get(case_id)
        if state is not None:
            self._live.move_to_end(case_id)
            return state
        state = _parse(case_state.data.get(case_id))
        if state is not None:
            self._keep(case_id, state)
        return state

    def stage(self, case_id: str, state: CaseState, partition: int) -> None:
        """``state`` is the case's new state (written at the next :meth:`flush`, to ``partition``'s changelog)."""
        self._staged[case_id] = (partition, state)
        self._keep(case_id, state)

    @property
    def staged(self) -> int:
        return len(self._staged)

    def flush(self) -> int:
        """Write every staged state to the table and its changelog, one record per case."""
        staged, self._staged = self._staged, {}
        data = case_state.data
        for case_id, (partition, state) in staged.items():
            value = state.to_bytes()
            data[case_id] = value
            case_state.send_changelog(partition, case_id, value)
        return len(staged)

    def forget(self) -> None:
        """The table may have changed under us (a rebalance, a recovery): parse again from the table."""
        self._live.clear()

    def current(self) -> list[tuple[str, CaseState]]:
        """Every case of the table with its newest state (staged ones included)."""
        out = []
        for case_id, doc in list(case_state.data.items()):
            state = self._staged[case_id][1] if case_id in self._staged else self._live.get(case_id) or _parse(doc)
            if state is not None:
                out.append((case_id, state))
        out.extend((case_id, state) for case_id, (_, state) in self._staged.items() if case_id not in case_state.data)
        return out

    def _keep(self, case_id: str, state: CaseState) -> None:
        self._live[case_id] = state
        self._live.move_to_end(case_id)
        if len(self._live) > self._live_cases:
            self._live.popitem(last=False)


states = StateWriter()


def verify_partitions(source_topic: str) -> None:
    """faust's own check before a table write (once per topic): the changelog has as many partitions
    as ``source_topic``, so a state goes to its case's partition (raises ``PartitionsMismatch``)."""
    case_state._verify_source_topic_partitions(source_topic)  # type: ignore[attr-defined]  # faust keeps it private


def load(case_id: str) -> CaseState | None:
    return states.load(case_id)


def active_partitions() -> set[int]:
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == case_topic_name}


def rebuild_heap() -> None:
    """Reschedule every case of the partitions this worker owns (after recovery, rebalance, policy change)."""
    partitions = active_partitions()
    t = now()
    policy = watcher.policy
    entries = []
    for case_id, state in states.current():
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
    states.forget()
    rebuild_heap()


@app.on_partitions_revoked.connect  # type: ignore[arg-type]
async def _on_revoked(sender: Any, *args: Any, **kwargs: Any) -> None:
    revoked: set[TP] = args[0] if args else kwargs.get("revoked", set())
    states.forget()
    heap.drop_partitions({tp.partition for tp in revoked if tp.topic == case_topic_name})
    m.heap_size.set(len(heap))
    m.partitions_assigned.set(0)
    m.consumer_lag.clear()
