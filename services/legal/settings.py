"""Legal settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from shared.settings import CommonSettings

DEFAULT_DEADLINES_FILE = Path(__file__).resolve().parent / "deadlines.yaml"
DEFAULT_HOLIDAYS_DIR = Path(__file__).resolve().parent / "holidays"


class LegalSettings(CommonSettings):
    service_name: str = Field("legal", description="names the metrics, the default database and the logs")
    legal_deadlines_file: Path = Field(
        DEFAULT_DEADLINES_FILE, description="YAML file with the statutory duration of each stage"
    )
    legal_holidays_dir: Path = Field(
        DEFAULT_HOLIDAYS_DIR,
        description="directory of <year>.yaml judicial holiday files (the deadlines file's calendar.holidays_dir wins)",
    )
    legal_calendar_horizon_days: int = Field(
        90, ge=1, le=730, description="how far ahead GET /v1/calendar and the iCalendar feed look (days)"
    )
    legal_audit_db: str | None = Field(
        None,
        description="deprecated name of CENTINELA_AUDIT_DB for the legal service (wins when set); leave empty",
    )
    legal_max_batch: int = Field(500, ge=1, le=5000, description="most updates accepted in one POST")
    legal_history_memory_records: int = Field(
        50_000,
        ge=0,
        description="court updates of recently written cases each process keeps in memory so a batch needs no "
        "re-read nor replay of their history (0: none; each is checked against the database before use)",
    )
    legal_max_future_skew_seconds: int = Field(
        300, ge=0, description="an update whose occurred_at is further in the future than this is rejected"
    )
    legal_kafka_sources: list[str] = Field(
        default_factory=list,
        description="source_system values accepted on the Kafka path (empty: any; broker ACLs decide who writes)",
    )
    legal_integrator_binding: Literal["enforce", "warn"] = Field(
        "enforce",
        description="court integrators may publish only for cases whose organisation shared them with their system "
        "(PUT /v1/cases/{case_id}/prosecutor-refs, shared_with_systems): enforce refuses the others (404 on REST, "
        "court-updates.dlq with code not_shared on Kafka); warn accepts them, logs and audits (transition only)",
    )
    legal_consumers_enabled: bool = Field(True, description="run the court-updates and case-events consumers")
    legal_court_updates_group: str = Field(
        "legal-court-updates", description="consumer group on court-updates (also the DLQ's dlq.consumer.group)"
    )
    legal_case_events_group: str = Field(
        "legal-case-access", description="consumer group on case-events (who may read and record on which case)"
    )
    legal_stats_interval_seconds: float = Field(
        15.0,
        gt=0,
        description="how often the cases-by-stage and oldest-stage-age gauges are refreshed: the ages every time, "
        "the counts (a query per stage) after a write in this process or every 20th time (other processes' writes)",
    )
    legal_page_size_max: int = Field(200, ge=1, le=1000, description="largest page_size of GET /v1/legal/cases")
    legal_time_zone: str = Field(
        "America/Lima", description="time zone whose calendar dates match an advocate's entry with an integrator's"
    )
    legal_person_source_system: str = Field(
        "centinela-web",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$",
        description="source_system of updates recorded by advocates and supervisors (their idempotency namespace)",
    )
    legal_consumer_max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="a court-updates message failing this many times with an unexpected error goes to the DLQ",
    )
    legal_consumer_retry_window_seconds: float = Field(
        10.0,
        gt=0,
        le=600,
        description="longest backoff between attempts of a failing message; its partition pauses, the others go on",
    )
    legal_consumer_stuck_after_seconds: float = Field(
        30.0, gt=0, description="a partition failing this long reports the consumer stuck (/readyz 503, gauge 1)"
    )
    legal_consumer_lag_interval_seconds: float = Field(
        2.0, gt=0, le=300, description="how often the per-partition lag gauge is refreshed from the broker"
    )

    @field_validator("legal_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("CENTINELA_LEGAL_TIME_ZONE: not an IANA time zone (e.g. America/Lima)") from None
        return value
