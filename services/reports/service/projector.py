"""Fold one event into the read model; fold changed cases into their cells."""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from pymongo.database import Database

from services.reports.domain.figures import DIMENSIONS, merge
from services.reports.store.readmodel import CellRepository, FactsRepository, Lease, VersionConflict
from shared.background import BackgroundLoop
from shared.events import Event
from shared.metrics import counter, gauge

log = logging.getLogger(__name__)

EVENTS = counter("centinela_reports_events_total", "events folded into the read model", ("outcome",))
DIRTY = gauge("centinela_reports_dirty_cases", "cases changed and not yet folded into the cells")
CELLS_WRITTEN = counter("centinela_reports_cells_written_total", "aggregate cells recomputed")


class Projector:
    def __init__(self, facts: FactsRepository, attempts: int = 5) -> None:
        self.facts = facts
        self.attempts = attempts

    def handle(self, event: Event, raw_data: dict[str, Any] | None = None) -> bool:
        """Fold ``event`` into its case's facts; True when stored, False for a type the model ignores.

        A version conflict (another process wrote the case meanwhile, e.g. during a rebalance) is
        retried on a fresh read; facts are keyed by event and item ids, so re-applying is harmless.
        """
        for attempt in range(self.attempts):
            facts, version, previous_cell = self.facts.load(event.case_id)
            if not facts.apply(event, raw_data):
                EVENTS.labels("ignored").inc()
                return False
            try:
                self.facts.save(facts, version, previous_cell)
            except VersionConflict:
                if attempt == self.attempts - 1:
                    raise
                continue
            EVENTS.labels("folded").inc()
            return True
        return False  # pragma: no cover - the loop returns or raises


class Materialiser(BackgroundLoop):
    """Recompute the cells of changed cases from their stored contributions (one process at a time).

    A cell is rebuilt from its own cases only, so a pass costs what changed, not the whole model; a
    crash mid-pass leaves the cases dirty and the next pass finishes the job (rebuilding is idempotent).
    """

    thread_name = "reports-materialiser"

    def __init__(self, db: Database[Any], period: float, batch: int, lease_seconds: float) -> None:
        super().__init__()
        self.facts = FactsRepository(db)
        self.cells = CellRepository(db)
        self.lease = Lease(db, "materialiser", f"{socket.gethostname()}:{os.getpid()}:{id(self)}", lease_seconds)
        self.period = period
        self.batch = batch

    def step(self) -> float:
        try:
            if not self.lease.acquire():
                return self.period
            folded = self.run_once()
        except Exception as exc:  # database down: try again next period
            log.warning("materialiser pass failed", extra={"exc": type(exc).__name__})
            return self.period
        return 0 if folded >= self.batch else self.period

    def run_once(self) -> int:
        dirty = self.facts.dirty(self.batch)
        DIRTY.set(len(dirty))
        cells: set[str] = set()
        for doc in dirty:
            if doc.get("cell"):
                cells.add(doc["cell"])
            cells.update(doc.get("stale_cells") or [])
        if cells:
            self.rebuild(sorted(cells))
        self.facts.clean([(d["_id"], int(d.get("v", 0)), list(d.get("stale_cells") or [])) for d in dirty])
        return len(dirty)

    def rebuild(self, cids: list[str]) -> None:
        """Recompute the cells ``cids`` from the contributions of their cases."""
        totals: dict[str, dict[str, Any]] = {cid: {} for cid in cids}
        keys: dict[str, dict[str, str]] = {}
        for doc in self.facts.contributions(cids):
            cid = doc["cell"]
            merge(totals[cid], doc.get("contrib") or {})
            keys.setdefault(cid, doc.get("key") or {})
        self.cells.put_many(
            [
                (cid, keys.get(cid) or dict(zip(DIMENSIONS, cid.split("|"), strict=False)), total)
                for cid, total in totals.items()
            ]
        )
        CELLS_WRITTEN.inc(len(cids))

    def rebuild_all(self, chunk: int = 1000) -> int:
        """Recompute every cell from every case's stored contribution (after a restore, a bulk load
        or a change of the figures); cells left without cases are deleted. Returns the cell count."""
        totals: dict[str, dict[str, Any]] = {}
        keys: dict[str, dict[str, str]] = {}
        for doc in self.facts.contributions(None):
            cid = doc.get("cell")
            if not cid:
                continue
            merge(totals.setdefault(cid, {}), doc.get("contrib") or {})
            keys.setdefault(cid, doc.get("key") or {})
        items = [(cid, keys[cid], total) for cid, total in totals.items()]
        for i in range(0, len(items), chunk):
            self.cells.put_many(items[i : i + chunk])
        self.cells.delete(sorted(self.cells.ids() - set(totals)))
        CELLS_WRITTEN.inc(len(items))
        return len(items)

    def drain(self, max_passes: int = 10_000) -> int:
        """Fold every dirty case now (tests, the export command, a rebuild)."""
        total = 0
        for _ in range(max_passes):
            n = self.run_once()
            total += n
            if n == 0:
                break
        return total
