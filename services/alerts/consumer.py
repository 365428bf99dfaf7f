"""Consumes the ``alerts`` topic: stores alerts, applies lifecycle facts, queues notifications.

Idempotent by construction: a raised alert is an upsert keyed by its deterministic
``alert_id``; every other fact is a conditional update that matches nothing the second time;
notification jobs have ids derived from (alert, fact, recipient), so a replayed or duplicated
event (even with a new event id) never sends a second e-mail or webhook. Notifications are
queued here — after the event is durably on Kafka — rather than where a state change happens,
so an escalation or a raise is notified even if the process dies right after the change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from services.alerts import service_metrics as m
from services.alerts.escalation import EscalationPolicy
from services.alerts.notify import email
from services.alerts.settings import AlertsSettings
from services.alerts.store.alerts import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository, matches
from shared.events import Event, decode, encode
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved
from shared.kafka import InvalidMessage

log = logging.getLogger(__name__)


class AlertIngestor:
    def __init__(
        self,
        settings: AlertsSettings,
        alerts: AlertRepository,
        directory: DirectoryRepository,
        subscriptions: SubscriptionRepository,
        jobs: JobRepository,
        policy: EscalationPolicy,
        *,
        on_change: Callable[[str, dict[str, Any]], None],
        on_jobs: Callable[[], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.alerts = alerts
        self.directory = directory
        self.subscriptions = subscriptions
        self.jobs = jobs
        self.policy = policy
        self.on_change = on_change
        self.on_jobs = on_jobs
        self.clock = clock

    def decode(self, record: ConsumerRecord) -> Event:
        if record.value is None:
            raise InvalidMessage("empty record")
        return decode(record.value)  # DecodeError is a ValueError: the record goes to alerts.dlq

    def handle(self, record: ConsumerRecord, event: Event) -> None:
        self.apply(event)

    def apply(self, event: Event) -> None:
        p = event.payload
        now = self.clock()
        if isinstance(p, AlertRaised):
            if self.alerts.ingest_raised(p, event.id, now):
                m.ingested.labels(p.rule, p.severity).inc()
                doc = self.alerts.get(p.alert_id)
                if doc is not None:
                    self.on_change("raised", doc)
            kind = "raised"
        elif isinstance(p, AlertResolved):
            changed = self.alerts.apply_resolved(p, now)
            if changed is not None:
                self.on_change("resolved", changed)
            kind = "resolved"
        elif isinstance(p, AlertAcknowledged):
            changed = self.alerts.apply_acknowledged(p, now)
            if changed is not None:
                self.on_change("acknowledged", changed)
            kind = "acknowledged"
        elif isinstance(p, AlertEscalated):
            changed = self.alerts.apply_escalated(p, now)
            if changed is not None:
                self.on_change("escalated", changed)
            kind = f"escalated-{p.level}"
        else:
            raise InvalidMessage(f"unexpected event type {event.type} on alerts")
        alert = self.alerts.get(p.alert_id)
        if alert is None:  # a fact about an alert this service never saw raised (other key order, purge)
            log.warning("lifecycle fact for an unknown alert ignored", extra={"event_id": event.id})
            return
        queued = self._email(event, alert, kind)
        queued |= self._webhooks(event, alert, kind)
        if queued:
            self.on_jobs()

    def _email(self, event: Event, alert: dict[str, Any], kind: str) -> bool:
        p = event.payload
        now = self.clock()
        queued = False
        if isinstance(p, AlertRaised):
            entry = self.directory.get(alert["advocate_id"]) if alert.get("advocate_id") else None
            if entry is None:
                m.notifications.labels("email", "no_recipient").inc()
                return False
            msg = email.raised_message(self.settings, alert)
            queued = self.jobs.enqueue(
                f"email:{alert['_id']}:{kind}:{entry['_id']}", "email", {"to": entry["email"], **msg}, now
            )
        elif isinstance(p, AlertEscalated) and alert.get("org_id"):
            supervisors = self.directory.supervisors(alert["org_id"])
            if not supervisors:
                m.notifications.labels("email", "no_recipient").inc()
            after = self.policy.after(alert["severity"])
            msg = email.escalated_message(self.settings, alert, p.level, after)
            for entry in supervisors:
                queued |= self.jobs.enqueue(
                    f"email:{alert['_id']}:{kind}:{entry['_id']}", "email", {"to": entry["email"], **msg}, now
                )
        return queued

    def _webhooks(self, event: Event, alert: dict[str, Any], kind: str) -> bool:
        subs = [s for s in self.subscriptions.all() if matches(s, alert)]
        if not subs:
            return False
        body = encode(event.envelope).decode()
        queued = False
        for sub in subs:
            payload = {
                "subscription_id": sub["_id"],
                "event_id": event.id,
                "event_type": event.type,
                "alert_id": alert["_id"],
                "body": body,
            }
            queued |= self.jobs.enqueue(f"webhook:{sub['_id']}:{alert['_id']}:{kind}", "webhook", payload, self.clock())
        return queued
