"""Metrics of the alerts HTTP service (the processor process owns raised/resolved counters).

Labels are rule ids, severities, channels and outcomes: a fixed, small set, never an alert or case id.
"""

from __future__ import annotations

from shared import metrics

open_alerts = metrics.gauge(
    "centinela_alerts_open_alerts",
    "alerts not yet resolved (open, acknowledged or snoozed), recounted every 10 escalation ticks",
    ("severity",),
    multiprocess_mode="max",
)
time_to_ack = metrics.histogram(
    "centinela_alerts_time_to_ack_seconds",
    "time from an alert being raised to its acknowledgement",
    buckets=(10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
escalations = metrics.counter(
    "centinela_alerts_escalations_total", "alerts escalated to supervisors (one per level)", ("rule", "severity")
)
notifications = metrics.counter(
    "centinela_alerts_notifications_total",
    "notification delivery attempts: outcome sent, retry, failed, disabled, no_recipient, cancelled",
    ("channel", "outcome"),
)
ingested = metrics.counter(
    "centinela_alerts_service_alerts_ingested_total",
    "new alerts stored by the alerts service (replays not counted)",
    ("rule", "severity"),
)
escalation_last_tick = metrics.gauge(
    "centinela_alerts_escalation_last_tick_timestamp_seconds",
    "wall-clock time of the last escalation pass (alert when it stops moving)",
    multiprocess_mode="max",
)
sse_clients = metrics.gauge("centinela_alerts_sse_clients", "open live-stream connections")
dead_lettered = metrics.counter(
    "centinela_alerts_service_dead_lettered_total",
    "records of the alerts topic sent to alerts.dlq, by reason code (invalid, unexpected)",
    ("code",),
)
reassigned = metrics.counter(
    "centinela_alerts_service_alerts_reassigned_total",
    "unresolved alerts handed to the case's new advocate (centinela.alert.updated naming another advocate)",
    ("rule",),
)
