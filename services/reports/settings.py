"""Reports settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import CommonSettings


class ReportsSettings(CommonSettings):
    service_name: str = "reports"
    reports_consumer_group: str = Field(
        "reports", description="consumer group of the read model on case-events, legal-events and alerts"
    )
    reports_min_cell: int = Field(
        5,
        ge=1,
        le=1000,
        description="k of the figures: a count, share or statistic resting on fewer cases than this is "
        "suppressed (null) so a small group does not single out a child",
    )
    reports_export_k: int = Field(
        5, ge=2, le=1000, description="default k of the anonymised export (every quasi-identifier combination >= k)"
    )
    reports_export_max_suppressed: float = Field(
        0.05,
        ge=0,
        le=1,
        description="share of rows the export may drop before it generalises the quasi-identifiers one level more",
    )
    reports_materialise_seconds: float = Field(
        2.0,
        gt=0,
        le=3600,
        description="how often changed cases are folded into the aggregate cells while there are some; a case "
        "folded in this process wakes the materialiser at once, idle it looks for changed cases (one indexed "
        "lookup) with a backoff up to ten times this",
    )
    reports_materialise_batch: int = Field(500, ge=1, le=100000, description="changed cases folded per pass")
    reports_lease_seconds: float = Field(
        15.0, gt=0, le=600, description="one process materialises at a time; a dead one's lease is taken over"
    )
