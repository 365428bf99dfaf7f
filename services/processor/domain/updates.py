"""``centinela.alert.updated``: what an open alert says changed (its evidence, or whose it is).

The fact belongs in ``shared/events/alerts.py`` (the alerts service consumes it); until it is there
it is defined here, with the same name, fields and version, so the processor can publish it. When
``shared.events.alerts.AlertUpdated`` exists, that class is used and this one is not registered.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from shared.events import alerts as _alerts
from shared.events.alerts import SOURCE, AlertFact, Severity
from shared.events.envelope import event_type


class _AlertUpdated(AlertFact):
    """An open alert's current summary, evidence, severity and advocate (issue 13 item 8, issue 18 item 2).

    ``changed`` names what moved: ``evidence`` (summary and evidence recomputed), ``advocate`` (the
    case was reassigned: the alert follows the case's current advocate; the previous one is kept in
    ``previous_advocate_id`` for the alert's history).
    """

    severity: Severity
    org_id: str | None = None
    advocate_id: str | None = None
    previous_advocate_id: str | None = None
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    changed: list[str] = Field(default_factory=list)
    updated_at: datetime


AlertUpdated: type[AlertFact] = getattr(_alerts, "AlertUpdated", None) or event_type(
    "centinela.alert.updated", 1, SOURCE
)(_AlertUpdated)
