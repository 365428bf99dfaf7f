"""Use case "escalate": the wall-clock loop that escalates unacknowledged alerts.

The times per severity come from the policy file (``adapters.policy_file``). Level ``n`` is
reached when an alert stays unacknowledged (status ``open``) for ``n`` times its severity's
time, counted from ``raised_at``; each level is taken by one conditional update on
``escalation_level``, so two workers never escalate the same alert twice. The same update
writes the ``alert.escalated`` fact into the outbox and the supervisors' e-mails and webhooks
into the alert; they are queued right after (and by this loop's sweep after a crash).

Each tick also ends snoozes that are over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.alerts import metrics as m
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.ingest import Notifier, pending_entry
from services.alerts.settings import AlertsSettings
from services.processor.domain.policy import SEVERITIES
from shared import outbox
from shared.background import BackgroundLoop
from shared.events import new_event
from shared.events.alerts import AlertEscalated
from shared.topics import ALERTS

log = logging.getLogger(__name__)


@dataclass
class Escalated:
    alert: dict[str, Any]
    level: int


class Escalator(BackgroundLoop):
    """One wall-clock loop per service process; safe to run in several processes at once."""

    thread_name = "alerts-escalator"

    def __init__(
        self,
        settings: AlertsSettings,
        repo: Any,
        policy: EscalationPolicy,
        *,
        on_change: Callable[[str, dict[str, Any]], None],
        on_outbox: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        notifier: Notifier | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.repo = repo
        self.policy = policy
        self.on_change = on_change
        self.on_outbox = on_outbox
        self.clock = clock
        #: None (unit tests of the loop alone): the notifications stay pending in the alert
        self.notifier = notifier
        self._next_counts = datetime.min.replace(tzinfo=UTC)

    def step(self) -> float:
        try:
            self.tick()
        except Exception as exc:  # MongoDB away: try again next tick, never kill the loop
            log.warning("escalation tick failed: %s", type(exc).__name__)
        return self.settings.escalation_tick_seconds

    def tick(self) -> list[Escalated]:
        now = self.clock()
        for doc in self.repo.wake_snoozed(now):
            self.on_change("reopened", doc)
        done: list[Escalated] = []
        policy = self.policy.current()  # one snapshot per tick
        for severity in reversed(SEVERITIES):  # most urgent first
            after = policy.escalation_after(severity)
            if after is None:  # no time configured: this severity never escalates
                continue
            for level in range(self.settings.escalation_max_level):
                cutoff = now - after * (level + 1)
                for alert in self.repo.due_for_escalation(severity, level, cutoff):
                    escalated = self.escalate(alert, level + 1, now)
                    if escalated is not None:
                        done.append(escalated)
        if self.notifier is not None:
            self.notifier.sweep(self.repo, now)
        if now >= self._next_counts:  # counting is the costly part of a tick: every 10 ticks
            self._next_counts = now + timedelta(seconds=10 * self.settings.escalation_tick_seconds)
            for severity, count in self.repo.open_counts().items():
                m.open_alerts.labels(severity).set(count)
        m.escalation_last_tick.set(now.timestamp())
        return done

    def escalate(self, alert: dict[str, Any], level: int, now: datetime) -> Escalated | None:
        payload = AlertEscalated(
            case_id=alert["case_id"],
            alert_id=alert["_id"],
            rule=alert["rule"],
            episode=alert["episode"],
            level=level,
            escalated_at=now,
        )
        envelope = new_event(payload)
        pending = [pending_entry(envelope, f"escalated-{level}", now)]
        doc = self.repo.escalate(alert["_id"], level, now, outbox.entries(ALERTS, envelope), pending)
        if doc is None:  # another worker took this level, or the alert was acknowledged meanwhile
            return None
        m.escalations.labels(alert["rule"], alert["severity"]).inc()
        self.on_outbox()
        self.on_change("escalated", doc)
        if self.notifier is not None:
            self.notifier.queue_pending(self.repo, doc, pending)
        return Escalated(doc, level)
