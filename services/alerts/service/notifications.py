"""Which e-mails and webhooks a fact about an alert causes, queued as durable delivery jobs.

Job ids derive from (alert, fact, recipient), so queuing the same fact twice — a replayed
``alerts`` record, the sweep after a crash — never sends a second e-mail or webhook. A change
made here (acknowledge, resolve, escalate) writes its notifications into the alert in the same
update as the change (``notify``); they are queued right after, and the escalation loop's
sweep queues whatever a crash left in between.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from services.alerts import metrics as m
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.domain.messages import escalated_message, matches, raised_message
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository
from services.processor.domain.updates import AlertUpdated
from shared.events import CloudEvent, Event, decode, encode
from shared.events.alerts import AlertEscalated, AlertRaised

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
