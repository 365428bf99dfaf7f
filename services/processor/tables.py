"""The ``case-state`` table and this worker's deadline heap, which is derived from it.

The table holds each case's folded state (domain.state.CaseState as JSON bytes) in a RocksDB
database per partition (``store.py``), recovered from its changelog topic only from the offset the
database already holds. The heap says when each case owned by this worker must next be looked at;
it is rebuilt from the table after every recovery (each rebalance) and after a policy change, and
trimmed when partitions are revoked.

Writes go through :data:`states`: the agent *stages* each new state while it works through the
records at hand and :meth:`StateWriter.flush` writes each changed case once (one changelog record
per case and batch, not per event): to the changelog first, then, acknowledged, to the local
database with the changelog offset. Only then does the agent mark the batch's records finished, and
offsets are committed only for finished records, so a committed offset never runs ahead of the
state that folded it. A crash before the flush loses only states whose records are not finished,
so not committed, so read and folded again.
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
from services.processor.store import CaseTable, store_options
from services.processor.topics import case_topic_name

log = logging.getLogger("centinela.processor")

case_state = CaseTable(
    app,
    name="case-state",
    default=None,
    beacon=app.tables.beacon,
    partitions=settings.partitions,
    # the value is the state's JSON, kept as bytes: serialised once per write (CaseState.to_bytes:
    # pydantic's JSON without the fields at their defaults), parsed only when a case is looked at;
    # older records (every field, the event-id list) still load (CaseState migrates them on read)
    schema=faust.Schema(key_serializer="json", value_serializer="raw"),
    options=store_options(settings.processor_store_cache_mb),
    help="per-case folded state (services.processor.domain.state.CaseState as JSON)",
)
app.tables.add(case_state)

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

    def load(self, case_id: str, partition: int) -> CaseState | None:
        staged = self._staged.get(case_id)
        if staged is not None:
            return staged[1]
        state = self._live.get(case_id)
        if state is not None:
            self._live.move_to_end(case_id)
            return state
        state = _parse(case_state.read(partition, case_id))
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

    async def flush(self) -> int:
        """Write every staged state: changelog first, then the local store (one record per case).

        The staged states stay readable until they are written; a failed send raises with all of
        them still staged (the next flush sends them again)."""
        if not self._staged:
            return 0
        await case_state.write({key: (p, state.to_bytes()) for key, (p, state) in self._staged.items()})
        written = len(self._staged)
        self._staged = {}
        return written

    def forget(self) -> None:
        """The table may have changed under us (a rebalance, a recovery): parse again from the table."""
        self._live.clear()

    def current(self, partitions: set[int]) -> list[tuple[str, CaseState, int]]:
        """Every case of ``partitions`` with its newest state (staged ones included) and partition."""
        out = []
        seen = set()
        for partition, case_id, doc in case_state.scan(partitions):
            seen.add(case_id)
            staged = self._staged.get(case_id)
            state = staged[1] if staged is not None else self._live.get(case_id) or _parse(doc)
            if state is not None:
                out.append((case_id, state, partition))
        for case_id, (p, state) in self._staged.items():
            if p in partitions and case_id not in seen:
                out.append((case_id, state, p))
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
    case_state._verify_source_topic_partitions(source_topic)  # faust keeps it private


def load(case_id: str, partition: int) -> CaseState | None:
    return states.load(case_id, partition)


def active_partitions() -> set[int]:
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == case_topic_name}


def rebuild_heap() -> None:
    """Reschedule every case of the partitions this worker owns (after recovery, rebalance, policy change)."""
    partitions = active_partitions()
    t = now()
    policy = watcher.policy
    entries = []
    for case_id, state, partition in states.current(partitions):
        entries.append((case_id, due_for(state, t, policy), partition))
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
