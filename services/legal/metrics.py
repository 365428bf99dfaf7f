"""The legal service's own metrics (labels: path, outcome, stage: never a case id)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from services.legal.domain.stages import STAGES
from shared import metrics
from shared.background import BackgroundLoop

log = logging.getLogger(__name__)

UPDATES = metrics.counter(
    "centinela_legal_updates_received_total",
    "court updates received, by path (rest|kafka) and outcome",
    ("path", "outcome"),
)
DLQ = metrics.counter("centinela_legal_dlq_total", "court-updates messages sent to court-updates.dlq")
LATENCY = metrics.histogram(
    "centinela_legal_processing_latency_seconds",
    "time to validate, place and store one court update with its events",
    ("path",),
)
CASES_BY_STAGE = metrics.gauge("centinela_legal_cases_by_stage", "cases per current prosecution stage", ("stage",))
OLDEST_STAGE_AGE = metrics.gauge(
    "centinela_legal_oldest_stage_age_seconds", "age of the longest-running current stage, per stage", ("stage",)
)


class StageGauges(BackgroundLoop):
    """The stage gauges, every ``interval`` seconds: counted again (a count and a read per stage) only after a
    write in this process (``changed()``) or every ``recount_every`` intervals (other processes' writes);
    in between the ages move on from the stages' stored start times without a query."""

    thread_name = "legal-stage-gauges"
    stop_timeout = 5.0

    def __init__(self, repo: object, interval: float, recount_every: int = 20) -> None:
        super().__init__()
        self.repo = repo
        self.interval = interval
        self.recount_every = recount_every
        self._dirty = True
        self._since_count = 0
        self._oldest: dict[str, datetime] = {}

    def changed(self) -> None:
        """A timeline was written here: count again at the next pass (no wake-up, no query now)."""
        self._dirty = True

    def refresh(self) -> None:
        self._dirty = False
        rows = {row["_id"]: row for row in self.repo.stage_stats()}  # type: ignore[attr-defined]
        oldest_by_stage: dict[str, datetime] = {}
        for stage in STAGES:
            row = rows.get(stage)
            CASES_BY_STAGE.labels(stage).set(row["cases"] if row else 0)
            oldest = row.get("oldest") if row else None
            if oldest is not None:
                oldest_by_stage[stage] = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
        self._oldest = oldest_by_stage
        self.set_ages()

    def set_ages(self) -> None:
        now = datetime.now(UTC)
        for stage in STAGES:
            oldest = self._oldest.get(stage)
            OLDEST_STAGE_AGE.labels(stage).set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)

    def step(self) -> float:
        self._since_count += 1
        try:
            if self._dirty or self._since_count >= self.recount_every:
                self._since_count = 0
                self.refresh()
            else:
                self.set_ages()
        except Exception as exc:
            self._dirty = True
            log.warning("stage gauges not refreshed", extra={"exc": type(exc).__name__})
        return self.interval
