"""A worker's deadline heap: which case must be re-evaluated when, for the partitions it owns.

Entries are ``(due_at, case_id)``; rescheduling a case pushes a new entry and remembers the
current one, so stale entries are dropped lazily when popped (no O(n) removal). Popping costs
O(k log n) for k due entries: a tick never walks the open cases.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from datetime import datetime


class DeadlineHeap:
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, str]] = []
        self._current: dict[str, tuple[datetime, int]] = {}

    def __len__(self) -> int:
        return len(self._current)

    def schedule(self, case_id: str, due_at: datetime | None, partition: int) -> None:
        """Set (or clear, with None) the next deadline of ``case_id``."""
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

    def pop_due(self, now: datetime, limit: int | None = None) -> list[tuple[str, datetime, int]]:
        """Remove and return ``(case_id, due_at, partition)`` of every deadline ``<= now``."""
        due: list[tuple[str, datetime, int]] = []
        while self._heap and self._heap[0][0] <= now and (limit is None or len(due) < limit):
            due_at, case_id = heapq.heappop(self._heap)
            current = self._current.get(case_id)
            if current is None or current[0] != due_at:
                continue  # superseded by a later schedule() or cleared
            del self._current[case_id]
            due.append((case_id, due_at, current[1]))
        return due

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
        self._compact()

    def rebuild(self, entries: Iterable[tuple[str, datetime | None, int]]) -> None:
        self._current = {case_id: (due, p) for case_id, due, p in entries if due is not None}
        self._compact()

    def _compact(self) -> None:
        self._heap = [(due, case_id) for case_id, (due, _) in self._current.items()]
        heapq.heapify(self._heap)
