"""A worker's deadline heap: which case must be re-evaluated when, for the partitions it owns.

Entries are ``(due_at, case_id)``; rescheduling a case pushes a new entry and remembers the
current one, so stale entries are dropped lazily when popped (no O(n) removal). Popping costs
O(k log n) for k due entries: a tick never walks the open cases.

A popped deadline stays *in flight* until the agent reports back (``schedule`` for that case,
after it evaluated the tick). If nothing comes back within ``retry_after`` and the tick is not
simply still waiting in line (``queued``: the agent has not reached its offset yet — re-sending
then would only lengthen the line) ``pop_due`` hands it out again: a lost or skipped tick delays an
alert, never loses it.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta


class DeadlineHeap:
    def __init__(self, retry_after: timedelta = timedelta(seconds=30)) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._current: dict[str, tuple[datetime, int]] = {}
        # case_id -> (due_at, partition, when to hand it out again, offset of the tick sent or -1)
        self._inflight: dict[str, tuple[datetime, int, datetime, int]] = {}
        self.retry_after = retry_after
        self.retried = 0

    def __len__(self) -> int:
        """Deadlines waiting to come due (in-flight ones are counted by :attr:`in_flight`)."""
        return len(self._current)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def schedule(self, case_id: str, due_at: datetime | None, partition: int) -> None:
        """Set (or clear, with None) the next deadline of ``case_id``; the agent looked at the case."""
        self._inflight.pop(case_id, None)
        if due_at is None:
            self._current.pop(case_id, None)
            return
        current = self._current.get(case_id)
        if current is not None and current[0] == due_at:
            return
        self._current[case_id] = (due_at, partition)
        heapq.heappush(self._heap, (due_at, case_id))
        # stale entries can pile up when a case is rescheduled often; compact when they dominate
        if len(self._heap) > 64 and len(self._heap) > 4 * len(self._current):
            self._compact()

    def pop_due(
        self, now: datetime, limit: int | None = None, queued: Callable[[int, int], bool] | None = None
    ) -> list[tuple[str, datetime, int]]:
        """``(case_id, due_at, partition)`` of every deadline ``<= now``, and of every one handed out
        ``retry_after`` ago that the agent has not reported back and whose tick is not ``queued(partition,
        offset)`` (still ahead of the agent); each stays in flight."""
        due: list[tuple[str, datetime, int]] = []
        if self._inflight:
            for case_id, (due_at, partition, again_at, offset) in list(self._inflight.items()):
                if limit is not None and len(due) >= limit:
                    break
                if again_at > now:
                    continue
                if offset >= 0 and queued is not None and queued(partition, offset):
                    self._inflight[case_id] = (due_at, partition, now + self.retry_after, offset)
                    continue
                self._inflight[case_id] = (due_at, partition, now + self.retry_after, -1)
                due.append((case_id, due_at, partition))
                self.retried += 1
        while self._heap and self._heap[0][0] <= now and (limit is None or len(due) < limit):
            due_at, case_id = heapq.heappop(self._heap)
            current = self._current.get(case_id)
            if current is None or current[0] != due_at:
                continue  # superseded by a later schedule() or cleared
            del self._current[case_id]
            self._inflight[case_id] = (due_at, current[1], now + self.retry_after, -1)
            due.append((case_id, due_at, current[1]))
        return due

    def sent(self, case_id: str, due_at: datetime, offset: int) -> None:
        """The tick for ``case_id`` (deadline ``due_at``) is on the broker at ``offset``."""
        entry = self._inflight.get(case_id)
        if entry is not None and entry[0] == due_at:
            self._inflight[case_id] = (entry[0], entry[1], entry[2], offset)

    def next_due(self) -> datetime | None:
        while self._heap:
            due_at, case_id = self._heap[0]
            current = self._current.get(case_id)
            if current is not None and current[0] == due_at:
                return due_at
            heapq.heappop(self._heap)
        return None

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        gone = set(partitions)
        for case_id in [c for c, (_, p) in self._current.items() if p in gone]:
            del self._current[case_id]
        for case_id in [c for c, (_, p, _, _) in self._inflight.items() if p in gone]:
            del self._inflight[case_id]
        self._compact()

    def rebuild(self, entries: Iterable[tuple[str, datetime | None, int]]) -> None:
        self._current = {case_id: (due, p) for case_id, due, p in entries if due is not None}
        self._inflight.clear()
        self._compact()

    def _compact(self) -> None:
        self._heap = [(due, case_id) for case_id, (due, _) in self._current.items()]
        heapq.heapify(self._heap)
