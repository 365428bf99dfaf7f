"""The console's own metrics (labels: outcome, api: never a user or a case)."""

from __future__ import annotations

from shared import metrics

SIGN_INS = metrics.counter(
    "centinela_console_sign_ins_total",
    "sign-in steps, by step (password|totp|enrol|oidc) and outcome "
    "(ok|needs_totp|needs_enrolment|bad|locked; oidc also unlinked|inactive|failed|unavailable)",
    ("step", "outcome"),
)
API_CALLS = metrics.counter(
    "centinela_console_api_calls_total",
    "calls to the intake, legal and alerts APIs, by api and outcome (ok|client_error|server_error|unreachable)",
    ("api", "outcome"),
)
LIVE_STREAMS = metrics.gauge("centinela_console_live_streams", "inboxes connected to the live alert stream")
