"""The ``case-state`` table and this worker's deadline heap, which is derived from it.

The table holds each case's folded state (domain.state.CaseState as JSON bytes) in a RocksDB
database per partition (``store.py``), recovered from its changelog topic only from the offset the
database already holds. The heap says when each case owned by this worker must next be looked at;
it is rebuilt from the table after every recovery (each rebalance) and after a policy change, and
trimmed when partitions are revoked.

Each stored value carries, ahead of the state's JSON, the case's next deadline as the rules computed
it and a fingerprint of the policy and rule code that computed it (:func:`stored`). Rebuilding the
heap after a restart or a takeover then reads those headers instead of parsing and evaluating every
case (18 s at 100,000 cases before): only values without a header, or written under another policy
or rule code, are evaluated again.

Writes go through :data:`states`: the agent *stages* each new state while it works through the
records at hand and :meth:`StateWriter.flush` writes each changed case once (one changelog record
per case and batch, not per event): to the changelog first, then, acknowledged, to the local
database with the changelog offset. Only then does the agent mark the batch's records finished, and
offsets are committed only for finished records, so a committed offset never runs ahead of the
state that folded it. A crash before the flush loses only states whose records are not finished,
so not committed, so read and folded again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

from faust.types import TP

from services.processor import metrics as m
from services.processor.app import app, now, progress, settings, watcher
from services.processor.deadlines import DeadlineHeap
from services.processor.domain import engine, rules, state, thresholds
from services.processor.domain.engine import due_for
from services.processor.domain.policy import Policy
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
    # the value is bytes: a header (the next deadline) and the state's JSON (see stored()), serialised
    # once per write, parsed only when a case is looked at; older records (plain JSON, every field, the
    # event-id list) still load (CaseState migrates them on read). faust derives the serialisers of
    # the table and its changelog topic from these types (bytes: raw; a Schema leaves both at json,
    # and then recovery JSON-decodes every value)
    key_type=str,
    value_type=bytes,
    options=store_options(settings.processor_store_cache_mb),
    help="per-case folded state (services.processor.domain.state.CaseState as JSON)",
)
app.tables.add(case_state)

heap = DeadlineHeap(retry_after=timedelta(seconds=settings.processor_tick_retry_seconds))

# cases kept parsed between events (the most recently used); the table keeps every case as bytes
LIVE_CASES = 10_000


_CODE = b"".join(Path(m.__file__ or "").read_bytes() for m in (engine, rules, state, thresholds))


def policy_fingerprint(policy: Policy) -> str:
    """Changes when the policy in force or the rule code changes (then a stored deadline may be stale)."""
    described = {k: v for k, v in policy.describe().items() if k != "source"}
    digest = hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode() + _CODE)
    return digest.hexdigest()[:12]


class Header(NamedTuple):
    due: datetime | None
    fingerprint: str


def stored(state: CaseState, due: datetime | None, fingerprint: str) -> bytes:
    """The table's value: ``~<due in epoch ms or -> <fingerprint>\n`` then the state's JSON."""
    when = str(round(due.timestamp() * 1000)) if due is not None else "-"
    return f"~{when} {fingerprint}\n".encode() + state.to_bytes()


def split(value: bytes | bytearray) -> tuple[Header | None, bytes | bytearray]:
    """The header (None for a value written before headers) and the state's JSON."""
    if value[:1] != b"~":
        return None, value
    end = value.index(b"\n")
    when, fingerprint = bytes(value[1:end]).decode().split(" ", 1)
    due = None if when == "-" else datetime.fromtimestamp(int(when) / 1000, UTC)
    return Header(due, fingerprint), value[end + 1 :]


def _parse(doc: object) -> CaseState | None:
    if not doc:
        return None
    if isinstance(doc, bytes | bytearray):
        return CaseState.from_bytes(split(doc)[1])
    if isinstance(doc, str):
        return CaseState.from_bytes(doc)
    return CaseState.from_json(doc)  # a JSON object (what a table test or an older store may hold)


_fingerprints: dict[int, tuple[Policy, str]] = {}


def fingerprint(policy: Policy) -> str:
    """:func:`policy_fingerprint`, computed once per policy object (the watcher swaps the object on reload)."""
    known = _fingerprints.get(id(policy))
    if known is None or known[0] is not policy:
        _fingerprints.clear()
        known = _fingerprints[id(policy)] = (policy, policy_fingerprint(policy))
    return known[1]


class StateWriter:
    """The agent's view of the table: staged states first, then parsed ones, then the stored bytes."""

    def __init__(self, live_cases: int = LIVE_CASES) -> None:
        self._staged: dict[str, tuple[int, CaseState, datetime | None, str]] = {}
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

    def stage(
        self, case_id: str, state: CaseState, partition: int, due: datetime | None = None, policy_fp: str = ""
    ) -> None:
        """``state`` is the case's new state and ``due`` its next deadline as the policy with
        fingerprint ``policy_fp`` computed it (written at the next :meth:`flush`, to ``partition``'s
        changelog; an empty fingerprint matches no policy: the case is evaluated at the next rebuild)."""
        self._staged[case_id] = (partition, state, due, policy_fp)
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
        await case_state.write({key: (p, stored(st, due, fp)) for key, (p, st, due, fp) in self._staged.items()})
        written = len(self._staged)
        self._staged = {}
        return written

    def forget(self) -> None:
        """The table may have changed under us (a rebalance, a recovery): parse again from the table."""
        self._live.clear()

    def deadlines(self, partitions: set[int], t: datetime, policy: Policy, fingerprint: str) -> Iterator[Due]:
        """Every case of ``partitions`` with its next deadline: from the stored header when it was
        computed under ``fingerprint``, else by evaluating the case at ``t`` (staged states included).
        Yields one at a time: nothing parsed is kept (a restart must not hold every case in memory)."""
        for partition, case_id, doc in case_state.scan(partitions):
            staged = self._staged.get(case_id)
            if staged is not None and staged[3] == fingerprint:
                yield Due(case_id, staged[2], partition)
                continue
            if staged is not None:
                yield Due(case_id, due_for(staged[1], t, policy), partition)
                continue
            header, _ = split(doc) if doc else (None, doc)
            if header is not None and header.fingerprint == fingerprint:
                yield Due(case_id, header.due, partition)
                continue
            state = self._live.get(case_id) or _parse(doc)
            if state is not None:
                yield Due(case_id, due_for(state, t, policy), partition)
        for case_id, (p, st, due, fp) in list(self._staged.items()):
            if p in partitions and case_state.read(p, case_id) is None:
                yield Due(case_id, due if fp == fingerprint else due_for(st, t, policy), p)

    def _keep(self, case_id: str, state: CaseState) -> None:
        self._live[case_id] = state
        self._live.move_to_end(case_id)
        if len(self._live) > self._live_cases:
            self._live.popitem(last=False)


class Due(NamedTuple):
    case_id: str
    due: datetime | None
    partition: int


states = StateWriter()


def verify_partitions(source_topic: str) -> None:
    """faust's own check before a table write (once per topic): the changelog has as many partitions
    as ``source_topic``, so a state goes to its case's partition (raises ``PartitionsMismatch``)."""
    case_state._verify_source_topic_partitions(source_topic)  # faust keeps it private


def load(case_id: str, partition: int) -> CaseState | None:
    return states.load(case_id, partition)


def active_partitions() -> set[int]:
    return {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == case_topic_name}


def rebuild_heap(*, policy_changed: bool = False) -> None:
    """Reschedule every case of the partitions this worker owns (after recovery, rebalance, policy
    change). After a policy change every case is evaluated again; otherwise the stored deadlines serve."""
    started = time.monotonic()
    partitions = active_partitions()
    policy = watcher.policy
    # a policy change invalidates every stored deadline: no fingerprint matches "" (evaluate each case)
    heap.rebuild(states.deadlines(partitions, now(), policy, "" if policy_changed else fingerprint(policy)))
    m.heap_size.set(len(heap))
    m.partitions_assigned.set(len(partitions))
    progress.progressed()  # a rebalance is not a stall: the idle clock starts again now
    log.info(
        "deadline heap rebuilt in %.1fs: %d cases scheduled over partitions %s",
        time.monotonic() - started,
        len(heap),
        sorted(partitions),
    )


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
