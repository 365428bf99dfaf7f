"""Processor metrics (served at the faust web server's ``/metrics``).

Labels are rule ids, severities and logical topic names — never a case or alert id.
"""

from __future__ import annotations

from shared import metrics

alerts_raised = metrics.counter(
    "centinela_alerts_alerts_raised_total", "alerts raised by the processor (new episodes)", ("rule", "severity")
)
alerts_resolved = metrics.counter(
    "centinela_alerts_alerts_resolved_total",
    "alerts resolved automatically because their condition cleared",
    ("rule", "severity"),
)
events_processed = metrics.counter(
    "centinela_alerts_events_processed_total",
    "input records processed (topic: case-events, legal-events or ticks)",
    ("topic",),
)
events_duplicate = metrics.counter(
    "centinela_alerts_events_duplicate_total", "input events already applied (replays, duplicates)", ("topic",)
)
events_dead_lettered = metrics.counter(
    "centinela_alerts_events_dead_lettered_total", "input records sent to <topic>.dlq", ("topic",)
)
rule_evaluation = metrics.histogram(
    "centinela_alerts_rule_evaluation_seconds",
    "time to evaluate every rule of one case",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5),
)
heap_size = metrics.gauge("centinela_alerts_deadline_heap_size", "cases with a pending deadline on this worker")
last_tick = metrics.gauge(
    "centinela_alerts_last_tick_timestamp_seconds", "wall-clock time of the last stall-detector tick (alert if stale)"
)
ticks_sent = metrics.counter("centinela_alerts_deadline_ticks_total", "due deadlines turned into re-evaluations")
policy_reloads = metrics.counter("centinela_alerts_policy_reloads_total", "policy file changes applied")
policy_reload_errors = metrics.counter(
    "centinela_alerts_policy_reload_errors_total", "policy file changes refused (the previous policy stays)"
)
policy_loaded_at = metrics.gauge(
    "centinela_alerts_policy_loaded_timestamp_seconds", "when the policy in force was loaded"
)
partitions_assigned = metrics.gauge(
    "centinela_alerts_partitions_assigned",
    "case-topic partitions this worker owns (after the last rebalance; 0 while one is in progress)",
)
consumer_lag = metrics.gauge(
    "centinela_alerts_consumer_lag",
    "records not yet processed per owned input partition (topic: case-events, legal-events, ticks)",
    ("topic", "partition"),
)
input_holes = metrics.counter(
    "centinela_alerts_input_holes_total",
    "input records the consumer skipped around a rebalance and read again (services/processor/transport.py)",
    ("topic",),
)
standby_lag = metrics.gauge(
    "centinela_alerts_standby_lag",
    "changelog records this worker's standby copies of other workers' partitions still have to read to reach "
    "the end they had when they started (0: a takeover of those partitions reads only the newest records; -1 "
    "just after a rebalance, before that end is measured)",
)
ticks_retried = metrics.counter(
    "centinela_alerts_deadline_ticks_retried_total",
    "deadline ticks sent again because no re-evaluation came back in time (lost around a rebalance)",
)
consumer_stuck = metrics.gauge(
    "centinela_processor_consumer_stuck",
    "1 while the agent cannot progress (a record failing on broker trouble, or input waiting and nothing "
    "processed, for CENTINELA_PROCESSOR_STUCK_AFTER_SECONDS); /readyz then answers 503 with the reason",
)
manual_resolutions = metrics.counter(
    "centinela_alerts_manual_resolutions_total",
    "alerts a person resolved by hand that the processor applied (a new episode waits for the quiet period)",
    ("rule",),
)
input_unfinished = metrics.counter(
    "centinela_alerts_input_unfinished_total",
    "input records faust skipped around a rebalance (and would have counted as processed): not committed, "
    "read again after the rebalance (services/processor/transport.py)",
    ("topic",),
)
input_reseeks = metrics.counter(
    "centinela_alerts_input_reseeks_total",
    "partitions sought back to the first unfinished record after faust emptied the stream buffers "
    "(a rebalance); what follows is read again (services/processor/transport.py)",
    ("topic",),
)
