"""Use case "ingest an alert fact": which facts the ``alerts`` topic may carry, the raised alert
stored or the lifecycle fact applied, and the e-mails and webhooks the fact causes queued.

The shared consumer (:class:`shared.consumer.PartitionedConsumer`) calls :meth:`AlertIngestor.decode`
and :meth:`AlertIngestor.handle` and tells poison from trouble: what ``decode`` refuses (empty, not a
CloudEvent, a type this topic does not carry, a time outside the sane range of ``shared.bounds``)
goes to ``alerts.dlq`` with a reason naming the field, never a value; database or broker trouble is
retried, holding back only its partition.

Idempotent by construction: a raised alert is an upsert keyed by its deterministic
``alert_id``; every other fact is a conditional update that matches nothing the second time;
notification jobs have ids derived from (alert, fact, recipient), so a replayed or duplicated
event (even with a new event id) never sends a second e-mail or webhook. Notifications are
queued after the fact is stored, so a crash in between replays the record (its offset is not
committed) and queues them then. A change made in this service (acknowledge, resolve, escalate)
writes its notifications into the alert in the same update as the change (:func:`pending_entry`);
they are queued right after, and the escalation loop's sweep queues whatever a crash left between.

The facts this service makes itself (acknowledged, escalated, resolved by hand) are applied and
notified where they are made (``service.inbox``, ``service.escalation``); :meth:`AlertIngestor.handle`
skips them when the topic brings them back (:func:`made_here`). ``apply`` still accepts them, so a
fact from any source converges to the same state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from kafka.consumer.fetcher import ConsumerRecord

from services.alerts import metrics as m
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.domain.messages import escalated_message, matches, raised_message
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository

# ``centinela.alert.updated``: defined by the processor until it moves to shared.events.alerts
from services.processor.domain.updates import AlertUpdated
from shared.bounds import check_datetime
from shared.consumer import decode_event
from shared.events import CloudEvent, Event, decode, encode
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved
from shared.kafka import InvalidMessage

log = logging.getLogger(__name__)

#: the instant each fact carries; a processor clock this far ahead of ours is refused as broken
_TIME_FIELD = {
    AlertRaised: "raised_at",
    AlertResolved: "resolved_at",
    AlertAcknowledged: "acknowledged_at",
    AlertEscalated: "escalated_at",
    AlertUpdated: "updated_at",
}
_AHEAD = timedelta(days=1)

#: a pending notification older than this was left by a crash (the writer queues its own at once)
SWEEP_GRACE = timedelta(seconds=30)


def pending_entry(envelope: CloudEvent, kind: str, now: datetime) -> dict[str, Any]:
    """What a change writes into the alert so that its notifications survive a crash."""
    return {"kind": kind, "event_id": envelope.id, "value": encode(envelope).decode(), "at": now}


class Notifier:
    def __init__(
        self,
        settings: AlertsSettings,
        directory: DirectoryRepository,
        subscriptions: SubscriptionRepository,
        jobs: JobRepository,
        policy: EscalationPolicy,
        *,
        on_jobs: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.subscriptions = subscriptions
        self.jobs = jobs
        self.policy = policy
        self.on_jobs = on_jobs
        self.clock = clock

    def queue(self, event: Event, alert: dict[str, Any], kind: str) -> bool:
        """Queue the e-mails and webhooks of ``event`` about ``alert``; True when any job is new."""
        queued = self._email(event, alert, kind)
        queued |= self._webhooks(event, alert, kind)
        if queued:
            self.on_jobs()
        return queued

    def queue_raised_many(self, raised: list[tuple[Event, dict[str, Any]]]) -> int:
        """The e-mails and webhooks of a batch of raised alerts: three queries and one bulk write in all."""
        if not raised:
            return 0
        now = self.clock()
        advocates = self.directory.get_many([a["advocate_id"] for _, a in raised if a.get("advocate_id")])
        subscriptions = self.subscriptions.all()
        jobs: list[tuple[str, str, dict[str, Any]]] = []
        for event, alert in raised:
            entry = advocates.get(alert.get("advocate_id") or "")
            if entry is None:
                m.notifications.labels("email", "no_recipient").inc()
            else:
                msg = raised_message(self.settings, alert, entry.get("language"))
                jobs.append((f"email:{alert['_id']}:raised:{entry['_id']}", "email", {"to": entry["email"], **msg}))
            jobs += self._webhook_jobs(event, alert, "raised", subscriptions)
        queued = self.jobs.enqueue_many(jobs, now)
        if queued:
            self.on_jobs()
        return queued

    def queue_pending(self, alerts: AlertRepository, alert: dict[str, Any], entries: list[dict[str, Any]]) -> None:
        """Queue notifications a change wrote into ``alert``, then drop them from it."""
        if not entries:
            return
        for entry in entries:
            self.queue(decode(entry["value"].encode()), alert, entry["kind"])
        alerts.notified(alert["_id"], [e["event_id"] for e in entries])

    def sweep(self, alerts: AlertRepository, now: datetime) -> int:
        """Queue what a crash left between a change and its notifications; returns the alerts handled."""
        docs = alerts.pending_notifications(now - SWEEP_GRACE)
        for doc in docs:
            self.queue_pending(alerts, doc, list(doc.get("notify") or []))
        return len(docs)

    def _email(self, event: Event, alert: dict[str, Any], kind: str) -> bool:
        p = event.payload
        now = self.clock()
        queued = False
        # raised, or handed to a new advocate: the alert's advocate is told, in their language
        if isinstance(p, AlertRaised) or (isinstance(p, AlertUpdated) and kind.startswith("reassigned")):
            entry = self.directory.get(alert["advocate_id"]) if alert.get("advocate_id") else None
            if entry is None:
                m.notifications.labels("email", "no_recipient").inc()
                return False
            msg = raised_message(self.settings, alert, entry.get("language"))
            queued = self.jobs.enqueue(
                f"email:{alert['_id']}:{kind}:{entry['_id']}", "email", {"to": entry["email"], **msg}, now
            )
        elif isinstance(p, AlertEscalated) and alert.get("org_id"):
            supervisors = self.directory.supervisors(alert["org_id"])
            if not supervisors:
                m.notifications.labels("email", "no_recipient").inc()
            after = self.policy.after(alert["severity"])
            for entry in supervisors:  # each supervisor in their own language
                msg = escalated_message(self.settings, alert, p.level, after, entry.get("language"))
                queued |= self.jobs.enqueue(
                    f"email:{alert['_id']}:{kind}:{entry['_id']}", "email", {"to": entry["email"], **msg}, now
                )
        return queued

    def _webhooks(self, event: Event, alert: dict[str, Any], kind: str) -> bool:
        queued = False
        for job_id, channel, payload in self._webhook_jobs(event, alert, kind, self.subscriptions.all()):
            queued |= self.jobs.enqueue(job_id, channel, payload, self.clock())
        return queued

    @staticmethod
    def _webhook_jobs(
        event: Event, alert: dict[str, Any], kind: str, subscriptions: list[dict[str, Any]]
    ) -> list[tuple[str, str, dict[str, Any]]]:
        subs = [s for s in subscriptions if matches(s, alert)]
        if not subs:
            return []
        body = encode(event.envelope).decode()
        return [
            (
                f"webhook:{sub['_id']}:{alert['_id']}:{kind}",
                "webhook",
                {
                    "subscription_id": sub["_id"],
                    "event_id": event.id,
                    "event_type": event.type,
                    "alert_id": alert["_id"],
                    "body": body,
                },
            )
            for sub in subs
        ]


def fact_kind(event: Event) -> str:
    """The notification kind of a fact (part of the job ids: one job per alert, fact and recipient)."""
    p = event.payload
    if isinstance(p, AlertEscalated):
        return f"escalated-{p.level}"
    return event.type.rsplit(".", 1)[-1]


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

    @staticmethod
    def decode(record: ConsumerRecord) -> Event:
        """The record as a fact this topic carries, or :class:`InvalidMessage` (poison) with the reason."""
        event = decode_event(record)
        name = _TIME_FIELD.get(type(event.payload))
        if name is None:
            raise InvalidMessage(f"unexpected event type {event.type} on alerts")
        try:
            check_datetime(getattr(event.payload, name), ahead=_AHEAD)
        except ValueError:  # out of range, or an offset that overflows: never an OverflowError further down
            raise InvalidMessage(f"data.{name} must be on or after 1900-01-01 and at most a day ahead") from None
        return event

    def handle(self, record: ConsumerRecord, event: Event) -> None:
        """One record of the ``alerts`` topic; facts made here were applied where they were made."""
        if not made_here(event):
            self.apply(event)

    def handle_many(self, records: list[ConsumerRecord], events: list[Event]) -> None:
        """What one poll brought for a partition, stored as a batch (see :meth:`apply_many`)."""
        self.apply_many([e for e in events if not made_here(e)])

    @staticmethod
    def dead_lettered(record: ConsumerRecord, reason: str, code: str) -> None:
        m.dead_lettered.labels(code).inc()

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
