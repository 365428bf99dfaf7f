"""The processor's settings (``CENTINELA_*`` variables), built once at start-up in ``app.py``.

The variable names are the ones the processor always read (``CENTINELA_PROCESSOR_*``,
``CENTINELA_POLICY_FILE``), so existing deployments keep working; the policy file's setting is the
one the alerts service reads too (``shared.settings.PolicySettings``).
"""

from __future__ import annotations

from pydantic import Field

from shared.settings import PolicySettings


class ProcessorSettings(PolicySettings):
    service_name: str = "processor"

    processor_tick_seconds: float = Field(
        1.0, gt=0, le=3600, description="wall-clock period of the stall detector (deadline heap check)"
    )
    processor_datadir: str = Field(
        ".run/processor-data",
        description="faust data directory: the case-state table's RocksDB databases (one per partition) live here; "
        "one directory per worker (a second worker on the same directory waits for the lock, then fails); a "
        "restart with the same directory reads only the changelog records written after it",
    )
    processor_store_cache_mb: int = Field(
        8,
        ge=1,
        le=4096,
        description="RocksDB block cache per partition database of the case-state table, in MiB (write buffers: "
        "a quarter of it, two of them); with the parsed-case cache this bounds the worker's memory, not the caseload",
    )
    processor_standby_replicas: int = Field(
        1,
        ge=0,
        le=3,
        description="copies of every other worker's case-state partitions each worker keeps up to date on its own "
        "disk, so a takeover reads only the last changelog records instead of rebuilding the cases from zero",
    )
    processor_web_host: str = Field(
        "127.0.0.1",
        description="address the web server (/metrics, /healthz, /readyz) binds; `--web-host` or `--web-bind` "
        "on the command line override it",
    )
    processor_session_timeout_seconds: float = Field(
        30.0, gt=1, description="broker session timeout: how soon a dead worker's partitions move to the others"
    )
    processor_tick_retry_seconds: float = Field(
        30.0,
        gt=0,
        description="a due deadline whose re-evaluation has not come back after this long is sent again "
        "(a tick lost around a rebalance delays an alert by at most this much, never loses it)",
    )
    processor_max_attempts: int = Field(
        3,
        ge=1,
        le=20,
        description="attempts before a record that keeps failing (not on the broker: on itself) goes to "
        "<topic>.dlq; broker trouble is retried with backoff for as long as it lasts",
    )
    processor_stuck_after_seconds: float = Field(
        30.0,
        gt=0,
        description="after this long failing on one record, or with input waiting and nothing processed, "
        "the processor reports itself stuck (/readyz 503 with the reason, centinela_processor_consumer_stuck 1)",
    )
    processor_max_ticks: int = Field(
        5000, ge=1, description="most due deadlines turned into re-evaluations per tick (the rest wait one tick)"
    )
