"""Alert lifecycle facts on ``alerts``: raised, updated, escalated, acknowledged, resolved.

``alert_id`` is deterministic — derived from (case, rule, episode) — so a replay, a duplicate
input event or a rebalance can never produce a second alert.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.events.envelope import EventPayload, event_type

SOURCE = "/centinela/alerts"

Severity = Literal["low", "medium", "high", "critical"]


def alert_id_for(case_id: str, rule: str, episode: int) -> str:
    digest = hashlib.sha256(f"{case_id}\x1f{rule}\x1f{episode}".encode()).hexdigest()
    return f"al_{digest[:24]}"


class AlertFact(EventPayload):
    alert_id: str
    rule: str
    episode: int = Field(ge=1)


@event_type("centinela.alert.raised", 1, SOURCE)
class AlertRaised(AlertFact):
    severity: Severity
    org_id: str | None = None
    advocate_id: str | None = None
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    raised_at: datetime


@event_type("centinela.alert.escalated", 1, SOURCE)
class AlertEscalated(AlertFact):
    level: int = Field(ge=1)
    escalated_at: datetime


@event_type("centinela.alert.acknowledged", 1, SOURCE)
class AlertAcknowledged(AlertFact):
    by: str
    acknowledged_at: datetime
    comment: str | None = None


@event_type("centinela.alert.resolved", 1, SOURCE)
class AlertResolved(AlertFact):
    auto: bool
    reason: str
    by: str | None = None
    resolved_at: datetime
    # optional (same version): the severity of the alert resolved, for per-severity counts
    severity: Severity | None = None


@event_type("centinela.alert.updated", 1, SOURCE)
class AlertUpdated(AlertFact):
    """An open alert's current summary, evidence, severity and advocate (issue 13 item 8, issue 18 item 2).

    ``changed`` names what moved: ``evidence`` (summary and evidence recomputed while the condition
    goes on), ``advocate`` (the case was reassigned: the alert follows the case's current advocate;
    the previous one is kept in ``previous_advocate_id`` for the alert's history). The consumer keeps
    the previous summary and evidence in the alert's history, so what the advocate reads stays true.
    """

    severity: Severity
    org_id: str | None = None
    advocate_id: str | None = None
    previous_advocate_id: str | None = None
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    changed: list[str] = Field(default_factory=list)
    updated_at: datetime
