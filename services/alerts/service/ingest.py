"""Use case "ingest an alert fact": store a raised alert, apply a lifecycle fact, queue notifications.

Idempotent by construction: a raised alert is an upsert keyed by its deterministic
``alert_id``; every other fact is a conditional update that matches nothing the second time;
notification jobs have ids derived from (alert, fact, recipient), so a replayed or duplicated
event (even with a new event id) never sends a second e-mail or webhook. Notifications are
queued after the fact is stored, so a crash in between replays the record (its offset is not
committed) and queues them then.

The facts this service makes itself (acknowledged, escalated, resolved by hand) are applied and
notified where they are made (``service.inbox``, ``service.escalation``); the Kafka adapter does
not feed them back here (:func:`made_here`). ``apply`` still accepts them, so a fact from any
source converges to the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from services.alerts import metrics as m
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.notifications import Notifier, fact_kind
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository
from services.processor.domain.updates import AlertUpdated
from shared.events import Event
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved
from shared.kafka import InvalidMessage

log = logging.getLogger(__name__)


def _as_stored(p: AlertRaised) -> dict[str, Any]:
    """The fields of a raised alert as the database gives them back (UTC, milliseconds)."""
    at = p.raised_at.astimezone(UTC)
    return {"_id": p.alert_id, **p.model_dump(), "raised_at": at.replace(microsecond=at.microsecond // 1000 * 1000)}


def made_here(event: Event) -> bool:
    """Facts only the alerts service publishes: it applied and notified them when it made them."""
    p = event.payload
    return isinstance(p, AlertAcknowledged | AlertEscalated) or (isinstance(p, AlertResolved) and not p.auto)


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
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.alerts = alerts
        self.on_change = on_change
        self.clock = clock
        self.notifier = notifier or Notifier(
            settings, directory, subscriptions, jobs, policy, on_jobs=on_jobs, clock=clock
        )

    def apply_many(self, events: list[Event]) -> None:
        """Apply a batch in order: each run of raised alerts with one bulk write and one notification
        write; any other fact on its own, between the runs, so the order of a partition is kept."""
        run: list[Event] = []
        for event in events:
            if isinstance(event.payload, AlertRaised):
                run.append(event)
                continue
            self._ingest_raised(run)
            run = []
            self.apply(event)
        self._ingest_raised(run)

    def _ingest_raised(self, run: list[Event]) -> None:
        if not run:
            return
        raised = [(cast(AlertRaised, e.payload), e.id) for e in run]
        new = self.alerts.ingest_raised_many(raised, self.clock())
        for doc in new.values():
            m.ingested.labels(doc["rule"], doc["severity"]).inc()
            self.on_change("raised", doc)
        # what a raise notifies (case, rule, severity, summary, advocate) never changes once stored, so
        # the event itself says it; a replay queues the same job ids, which are stored once
        notify = [(e, _as_stored(p)) for e, (p, _) in zip(run, raised, strict=True)]
        self.notifier.queue_raised_many(notify)

    def apply(self, event: Event) -> None:
        p = event.payload
        now = self.clock()
        if isinstance(p, AlertRaised):
            if self.alerts.ingest_raised(p, event.id, now):
                m.ingested.labels(p.rule, p.severity).inc()
                doc = self.alerts.get(p.alert_id)
                if doc is not None:
                    self.on_change("raised", doc)
        elif isinstance(p, AlertResolved):
            changed = self.alerts.apply_resolved(p, now)
            if changed is not None:
                self.on_change("resolved", changed)
        elif isinstance(p, AlertAcknowledged):
            changed = self.alerts.apply_acknowledged(p, now)
            if changed is not None:
                self.on_change("acknowledged", changed)
        elif isinstance(p, AlertEscalated):
            changed = self.alerts.apply_escalated(p, now)
            if changed is not None:
                self.on_change("escalated", changed)
        elif isinstance(p, AlertUpdated):
            # the case changed advocate, or the evidence changed: the same alert, now current
            outcome = self.alerts.apply_updated(p, now)
            if outcome is None:
                return  # resolved, unknown, or not newer than what is stored: nothing to say
            changed, previous = outcome
            if previous is None:
                self.on_change("updated", changed)
                return
            m.reassigned.labels(changed["rule"]).inc()
            # to those who may see it now (the new advocate, the supervisors); the previous advocate's
            # stream gets nothing about an alert that is no longer theirs (their next page omits it)
            self.on_change("reassigned", changed)
            self.notifier.queue(event, changed, f"reassigned-{changed.get('advocate_id')}")
            return
        else:
            raise InvalidMessage(f"unexpected event type {event.type} on alerts")
        alert = self.alerts.get(p.alert_id)
        if alert is None:  # a fact about an alert this service never saw raised (other key order, purge)
            log.warning("lifecycle fact for an unknown alert ignored", extra={"event_id": event.id})
            return
        self.notifier.queue(event, alert, fact_kind(event))
