"""Legal settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import CommonSettings

DEFAULT_DEADLINES_FILE = Path(__file__).resolve().parent / "deadlines.yaml"


class LegalSettings(CommonSettings):
    service_name: str = "legal"
    legal_deadlines_file: Path = Field(
        DEFAULT_DEADLINES_FILE, description="YAML file with the statutory duration of each stage"
    )
    legal_max_batch: int = Field(500, ge=1, le=5000, description="most updates accepted in one POST")
    legal_max_future_skew_seconds: int = Field(
        300, ge=0, description="an update whose occurred_at is further in the future than this is rejected"
    )
    legal_kafka_sources: list[str] = Field(
        default_factory=list,
        description="source_system values accepted on the Kafka path (empty: any; broker ACLs decide who writes)",
    )
    legal_consumers_enabled: bool = Field(True, description="run the court-updates and case-events consumers")
    legal_court_updates_group: str = "legal-court-updates"
    legal_case_events_group: str = "legal-case-access"
    legal_stats_interval_seconds: float = Field(
        15.0, gt=0, description="how often the cases-by-stage and oldest-stage-age gauges are recomputed"
    )
    legal_page_size_max: int = Field(200, ge=1, le=1000)
