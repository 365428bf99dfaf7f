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
    """Recomputes the stage gauges every ``interval`` seconds (an aggregation, not a scan per scrape)."""

    thread_name = "legal-stage-gauges"
    stop_timeout = 5.0

    def __init__(self, repo: object, interval: float) -> None:
        super().__init__()
        self.repo = repo
        self.interval = interval

    def refresh(self) -> None:
        rows = {row["_id"]: row for row in self.repo.stage_stats()}  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        for stage in STAGES:
            row = rows.get(stage)
            CASES_BY_STAGE.labels(stage).set(row["cases"] if row else 0)
            oldest = row.get("oldest") if row else None
            if oldest is not None and oldest.tzinfo is None:
                oldest = oldest.replace(tzinfo=UTC)
            OLDEST_STAGE_AGE.labels(stage).set(max(0.0, (now - oldest).total_seconds()) if oldest else 0)

    def step(self) -> float:
        try:
            self.refresh()
        except Exception as exc:
            log.warning("stage gauges not refreshed", extra={"exc": type(exc).__name__})
        return self.interval
