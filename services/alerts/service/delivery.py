"""Use case "deliver a notification": the worker takes due jobs from ``notify_jobs``, sends them, retries with backoff.

Jobs are durable documents with deterministic ids, so a crash between "event consumed" and
"e-mail sent" resends at worst once more, and a replayed event never enqueues a second job.
Nothing here raises into the consumer or the request path: failures are counted and retried.

Idle, the worker does not poll: after a pass that found nothing due it reads when the next job
falls due (``next_job_due``: the claim's two shapes with a later cutoff, sorted, limit 1, on the same
indexes) and sleeps until then, at most ``notify_idle_poll_seconds``. A job queued in this process
wakes it at once (``notify``), so the added latency is none for those; a retry is sent at its
``next_attempt_at``; an attempt whose sender died is taken over when its lease runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import ASCENDING

from services.alerts import metrics as m
from services.alerts.adapters import smtp, webhooks
from services.alerts.domain.webhook_targets import AllowList, Resolver, target_problem
from services.alerts.settings import AlertsSettings
from services.alerts.store.contacts import DeliveryRepository, JobRepository, SubscriptionRepository
from shared.background import BackgroundLoop

log = logging.getLogger(__name__)


# "When is the next job due?": the claim's two shapes (one index each: status + next_attempt_at,
# status + lease_until) with a cutoff at the end of the idle sleep, oldest first, one key read.
def next_pending_query(horizon: datetime) -> dict[str, Any]:
    return {"status": "pending", "next_attempt_at": {"$lte": horizon}}


def next_lease_end_query(horizon: datetime) -> dict[str, Any]:
    return {"status": "sending", "lease_until": {"$lte": horizon}}


def next_job_due(jobs: Any, horizon: datetime) -> datetime | None:
    """The earliest time before ``horizon`` at which a job of ``jobs`` (a collection) can be claimed, or None."""
    times = []
    for query, field in (
        (next_pending_query(horizon), "next_attempt_at"),
        (next_lease_end_query(horizon), "lease_until"),
    ):
        doc = jobs.find_one(query, {field: 1}, sort=[(field, ASCENDING)])
        if doc is not None and isinstance(doc.get(field), datetime):
            at = doc[field]
            times.append(at if at.tzinfo is not None else at.replace(tzinfo=UTC))
    return min(times, default=None)


def backoff(settings: AlertsSettings, attempt: int) -> timedelta:
    """Delay before attempt ``attempt + 1``: base * 2**(attempt-1), capped."""
    seconds = settings.notify_backoff_base_seconds * (2 ** max(0, attempt - 1))
    return timedelta(seconds=min(seconds, settings.notify_backoff_max_seconds))


class DeliveryWorker(BackgroundLoop):
    thread_name = "alerts-delivery"

    def __init__(
        self,
        settings: AlertsSettings,
        jobs: JobRepository,
        subscriptions: SubscriptionRepository,
        deliveries: DeliveryRepository,
        *,
        resolve: Resolver = webhooks.resolve,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        next_due: Callable[[datetime], datetime | None] | None = None,
    ) -> None:
        super().__init__()
        #: when the next job falls due (before the given horizon); default: the job collection's indexes
        self.next_due = next_due or (lambda horizon: next_job_due(jobs.coll, horizon))
        self.allow = AllowList.parse(settings.webhook_allow_hosts)
        self.resolve = resolve
        self.settings = settings
        self.jobs = jobs
        self.subscriptions = subscriptions
        self.deliveries = deliveries
        self.clock = clock
        self.lease = timedelta(
            seconds=max(30.0, 3 * max(settings.webhook_timeout_seconds, settings.smtp_timeout_seconds))
        )
        self._http = httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False)

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        self._http.close()

    def step(self) -> float:
        try:
            if self.run_once():
                return 0  # more may be due: no pause
            return self.idle_wait()
        except Exception as exc:  # MongoDB away: wait and try again
            log.warning("delivery pass failed: %s", type(exc).__name__)
        return self.settings.notify_poll_seconds

    def idle_wait(self) -> float:
        """Seconds until the next job falls due, at most ``notify_idle_poll_seconds`` (notify() cuts it short)."""
        cap = self.settings.notify_idle_poll_seconds
        now = self.clock()
        at = self.next_due(now + timedelta(seconds=cap))
        if at is None:
            return cap
        # a job due already (queued between the claim and this read) is claimed at once; a floor keeps a
        # job the claim cannot take from spinning the loop
        return min(cap, max((at - now).total_seconds(), 0.05))

    def run_once(self) -> bool:
        """Send one due job; False when none was due."""
        job = self.jobs.claim(self.clock(), self.lease)
        if job is None:
            return False
        channel = job["channel"]
        try:
            if channel == "email":
                outcome, error = self._email(job)
            else:
                outcome, error = self._webhook(job)
        except Exception as exc:  # a bug or an unexpected library error must not stop deliveries
            outcome, error = "error", type(exc).__name__
        now = self.clock()
        attempt = job["attempts"]
        if outcome == "blocked":  # trying again would knock at the same door
            recorded = self.jobs.finish(job["_id"], attempt, "failed", now, error)
            m.notifications.labels(channel, "blocked").inc()
        elif outcome in ("sent", "disabled", "cancelled"):
            recorded = self.jobs.finish(job["_id"], attempt, "done" if outcome == "sent" else outcome, now)
            m.notifications.labels(channel, outcome).inc()
        elif attempt >= self.settings.notify_max_attempts:
            recorded = self.jobs.finish(job["_id"], attempt, "failed", now, error)
            m.notifications.labels(channel, "failed").inc()
            log.warning("notification given up after %s attempts", attempt, extra={"topic": channel})
        else:
            recorded = self.jobs.retry(job["_id"], attempt, now + backoff(self.settings, attempt), error or "failed")
            m.notifications.labels(channel, "retry").inc()
        if not recorded:  # this attempt outlived its lease: the worker that took the job over owns it now
            log.warning("notification attempt finished after its lease ran out", extra={"topic": channel})
        return True

    def _email(self, job: dict[str, Any]) -> tuple[str, str | None]:
        if not self.settings.smtp_host:
            return "disabled", None
        p = job["payload"]
        try:
            smtp.send(self.settings, p["to"], p["subject"], p["body"])
        except Exception as exc:  # SMTP errors, refused connections, TLS failures: all retried
            return "retry", type(exc).__name__
        return "sent", None

    def _webhook(self, job: dict[str, Any]) -> tuple[str, str | None]:
        p = job["payload"]
        sub = self.subscriptions.get(p["subscription_id"])
        if sub is None:  # deleted since: nobody to deliver to
            return "cancelled", None
        # again now, after resolving the name: it may point inside since the subscription was made
        if target_problem(sub["url"], self.allow, self.resolve) is not None:
            self._record(job, sub, "blocked", None, "address not allowed", 0.0)
            return "blocked", "address not allowed"
        result = webhooks.post(
            self._http, sub["url"], sub["secret"], p["body"].encode(), p["event_id"], p["event_type"]
        )
        outcome = "delivered" if result.ok else "failed"
        self._record(job, sub, outcome, result.status_code, result.error, round(result.duration_ms, 1))
        return ("sent", None) if result.ok else ("retry", result.error)

    def _record(
        self,
        job: dict[str, Any],
        sub: dict[str, Any],
        outcome: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
    ) -> None:
        """One attempt of ``job`` in the subscription's delivery log (GET .../deliveries)."""
        p = job["payload"]
        self.deliveries.record(
            subscription_id=sub["_id"],
            job_id=job["_id"],
            event_id=p["event_id"],
            event_type=p["event_type"],
            alert_id=p["alert_id"],
            attempt=job["attempts"],
            at=self.clock(),
            outcome=outcome,
            status_code=status_code,
            error=error,
            duration_ms=duration_ms,
        )
