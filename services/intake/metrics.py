"""Intake business metrics. Labels are closed vocabularies, never an id."""

from __future__ import annotations

from shared import metrics

cases_registered = metrics.counter("centinela_intake_cases_registered_total", "cases registered")
reregistrations = metrics.counter(
    "centinela_intake_person_reregistrations_total", "registrations of a person_ref that already had a case"
)
sessions_recorded = metrics.counter(
    "centinela_intake_sessions_recorded_total", "sessions recorded by outcome", ("outcome",)
)
risk_flags = metrics.counter("centinela_intake_risk_flags_total", "risk flags raised by kind", ("kind",))
services_planned = metrics.counter("centinela_intake_services_planned_total", "services planned by kind", ("kind",))
identity_reads = metrics.counter(
    "centinela_intake_identity_reads_total", "identity disclosures by access path", ("path",)
)
version_conflicts = metrics.counter(
    "centinela_intake_version_conflicts_total", "writes refused or retried on a stale version"
)
