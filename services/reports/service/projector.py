"""Fold one event into the read model; fold changed cases into their cells."""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from pymongo.database import Database

from services.reports.domain.figures import DIMENSIONS, OUTCOMES, STAGES, figures, merge
from services.reports.store.readmodel import CellRepository, FactsRepository, Lease, VersionConflict
from shared.background import BackgroundLoop
from shared.events import Event
from shared.metrics import counter, gauge

log = logging.getLogger(__name__)

EVENTS = counter("centinela_reports_events_total", "events folded into the read model", ("outcome",))
DIRTY = gauge("centinela_reports_dirty_cases", "cases changed and not yet folded into the cells")
CELLS_WRITTEN = counter("centinela_reports_cells_written_total", "aggregate cells recomputed")
# The overall figures (every organisation, region and period) for the Justice access dashboard.
# Labels are the figure's own dimensions only (stage, outcome, quantile, milestone), never an
# organisation or a region: a small one could be picked out from a time series. A suppressed
# figure is NaN.
FIG_CASES = gauge("centinela_reports_cases", "cases in the read model", multiprocess_mode="max")
FIG_STAGE_DAYS = gauge(
    "centinela_reports_stage_duration_days",
    "time in a prosecution stage (completed stays)",
    ("stage", "quantile"),
    multiprocess_mode="max",
)
FIG_OUTCOME = gauge(
    "centinela_reports_prosecution_outcome_ratio",
    "share of prosecuted cases by outcome",
    ("outcome",),
    multiprocess_mode="max",
)
FIG_PSY_DAYS = gauge(
    "centinela_reports_rescue_to_psychosocial_days",
    "rescue to first psychosocial session",
    ("quantile",),
    multiprocess_mode="max",
)
FIG_COVERAGE = gauge(
    "centinela_reports_service_coverage_ratio", "sessions attended / sessions planned", multiprocess_mode="max"
)
FIG_FOLLOWUPS = gauge(
    "centinela_reports_followups_done_ratio",
    "post-closure follow-ups done / planned",
    ("milestone",),
    multiprocess_mode="max",
)
FIG_ALERTS = gauge("centinela_reports_alerts_per_case", "alerts raised per case", multiprocess_mode="max")
FIG_ACK_HOURS = gauge(
    "centinela_reports_ack_duration_hours",
    "time from an alert to its acknowledgement",
    ("quantile",),
    multiprocess_mode="max",
)


def _num(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def publish_figures(fig: dict[str, Any]) -> None:
    """Set the overall-figure gauges from :func:`figures` output (None -> NaN)."""
    FIG_CASES.set(_num(fig.get("cases")))
    prosecution = fig.get("prosecution") or {}
    for stage in STAGES:
        stats = (prosecution.get("stage_days") or {}).get(stage) or {}
        for q in ("median", "p90"):
            FIG_STAGE_DAYS.labels(stage, q).set(_num(stats.get(q)))
    for outcome in OUTCOMES:
        FIG_OUTCOME.labels(outcome).set(_num((prosecution.get(outcome) or {}).get("share")))
    psy = fig.get("rescue_to_psychosocial_days") or {}
    for q in ("median", "p90"):
        FIG_PSY_DAYS.labels(q).set(_num(psy.get(q)))
    FIG_COVERAGE.set(_num((fig.get("service_coverage") or {}).get("coverage")))
    for milestone, values in (fig.get("followups") or {}).items():
        FIG_FOLLOWUPS.labels(milestone).set(_num((values or {}).get("share_done")))
    alerts = fig.get("alerts") or {}
    FIG_ALERTS.set(_num(alerts.get("per_case")))
    for q in ("median", "p90"):
        FIG_ACK_HOURS.labels(q).set(_num((alerts.get("hours_to_acknowledge") or {}).get(q)))


class Projector:
    def __init__(self, facts: FactsRepository, attempts: int = 5, on_folded: Callable[[], None] = lambda: None) -> None:
        self.facts = facts
        self.attempts = attempts
        #: after a case was stored dirty (the service wakes its materialiser with it)
        self.on_folded = on_folded

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
            self.on_folded()
            return True
        return False  # pragma: no cover - the loop returns or raises


# The idle probe: is any case dirty? The dirty() shape on the ``dirty`` index, one key read.
DIRTY_PROBE: dict[str, Any] = {"dirty": True}


class Materialiser(BackgroundLoop):
    """Recompute the cells of changed cases from their stored contributions (one process at a time).

    A cell is rebuilt from its own cases only, so a pass costs what changed, not the whole model; a
    crash mid-pass leaves the cases dirty and the next pass finishes the job (rebuilding is idempotent).

    Idle, it asks only whether any case is dirty (one indexed lookup), backing off from ``period`` to
    ``idle_period`` (default 10 periods); the lease is taken when there is work (or the overall gauges are
    due). A case folded in this process wakes it at once (``notify``, from the projector), so only a change
    folded by another process waits up to ``idle_period``.
    """

    thread_name = "reports-materialiser"

    def __init__(
        self,
        db: Database[Any],
        period: float,
        batch: int,
        lease_seconds: float,
        k: int = 5,
        gauges_every: float = 30.0,
        idle_period: float | None = None,
    ) -> None:
        """``gauges_every``: the overall gauges are recomputed after a fold here, and at least this often
        (a read of every cell: other processes' folds)."""
        super().__init__()
        self.idle_period = max(period, 10 * period if idle_period is None else idle_period)
        self._backoff = period
        self._notified = True  # the first pass looks at everything
        self._idle = False  # the last pass found nothing: a fold here wakes it at once
        self.k = k
        self.gauges_every = gauges_every
        self._gauges_at = 0.0
        self.facts = FactsRepository(db)
        self.cells = CellRepository(db)
        self.lease = Lease(db, "materialiser", f"{socket.gethostname()}:{os.getpid()}:{id(self)}", lease_seconds)
        self.period = period
        self.batch = batch

    def notify(self) -> None:
        """A case was folded here: the next pass materialises. An idle materialiser runs it at once; a busy
        one keeps its ``period`` (passes fold what gathered meanwhile, not one case each)."""
        self._notified = True
        self._backoff = self.period
        if self._idle:
            self._idle = False
            super().notify()

    def step(self) -> float:
        try:
            notified, self._notified = self._notified, False
            # a fold here refreshes the overall gauges at once; this catches other processes' folds
            gauges_due = time.monotonic() - self._gauges_at >= self.gauges_every
            if not (notified or gauges_due) and self.facts.col.find_one(DIRTY_PROBE, {"_id": 1}) is None:
                delay = self._backoff  # idle: one indexed probe, no lease
                self._backoff = min(self._backoff * 2, self.idle_period)
                self._idle = True
                return delay
            self._idle = False
            if not self.lease.acquire():
                return self.period
            folded = self.run_once()
            if folded or gauges_due:
                self.refresh_gauges()
        except Exception as exc:  # database down: try again next period
            log.warning("materialiser pass failed", extra={"exc": type(exc).__name__})
            return self.period
        self._backoff = self.period
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

    def refresh_gauges(self) -> None:
        """Overall figures for /metrics: a merge of every cell (bounded by the cell count, not the cases)."""
        total: dict[str, Any] = {}
        for cell in self.cells.find(None, None, None):
            merge(total, cell.get("data") or {})
        publish_figures(figures(total, self.k))
        self._gauges_at = time.monotonic()

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
