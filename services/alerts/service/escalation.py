"""Use case "escalate": the wall-clock loop that escalates unacknowledged alerts.

The times per severity come from the policy file (``adapters.policy_file``). Level ``n`` is
reached when an alert stays unacknowledged (status ``open``) for ``n`` times its severity's
time, counted from ``raised_at``; each level is taken by one conditional update on
``escalation_level``, so two workers never escalate the same alert twice. The same update
writes the ``alert.escalated`` fact into the outbox and the supervisors' e-mails and webhooks
into the alert; they are queued right after (and by this loop's sweep after a crash).

Each tick also ends snoozes that are over.

The loop does not poll the database on a clock. After a tick it reads when the next thing falls
due (:class:`EscalationSchedule`: the oldest open alert per severity and level, the earliest snooze
end, the oldest notification a crash left; the due queries' own shapes with a later cutoff, sorted,
limit 1) and sleeps until then. It wakes every ``escalation_tick_seconds`` to look at that time and
the policy file without a query (a changed policy means a tick at once), and reads the schedule
again at least every ``escalation_rescan_seconds``. A change made in this process (an alert stored,
re-opened, snoozed, updated) is given to :meth:`Escalator.consider`, which moves the wake-up earlier
when that alert falls due sooner: such an alert is escalated at its due time, as the policy says.
Only an alert stored or snoozed by *another* process whose loop stopped waits for the rescan.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING

from services.alerts import metrics as m
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.ingest import SWEEP_GRACE, Notifier, pending_entry
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


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# The schedule's shapes: the due queries' own filters (each served by its index) with a later cutoff,
# sorted on the indexed time, limit 1 - what the server reads is one key, not the open alerts.
def next_escalation_query(severity: str, level: int, cutoff: datetime) -> dict[str, Any]:
    return {"status": "open", "severity": severity, "escalation_level": level, "raised_at": {"$lte": cutoff}}


def next_snooze_end_query(horizon: datetime) -> dict[str, Any]:
    return {"status": "snoozed", "snoozed_until": {"$lte": horizon}}


def oldest_unqueued_query(horizon: datetime) -> dict[str, Any]:
    return {"notify_since": {"$lte": horizon}}


class EscalationSchedule:
    """When the escalation loop has something to do next, read from the alerts collection's indexes."""

    def __init__(self, coll: Any) -> None:
        self.coll = coll

    def _first(self, query: dict[str, Any], field: str) -> datetime | None:
        doc = self.coll.find_one(query, {field: 1}, sort=[(field, ASCENDING)])
        value = doc.get(field) if doc is not None else None
        return _aware(value) if isinstance(value, datetime) else None

    def oldest_open(self, severity: str, level: int, cutoff: datetime) -> datetime | None:
        """``raised_at`` of the oldest alert open at ``level`` raised by ``cutoff``."""
        return self._first(next_escalation_query(severity, level, cutoff), "raised_at")

    def next_snooze_end(self, horizon: datetime) -> datetime | None:
        return self._first(next_snooze_end_query(horizon), "snoozed_until")

    def oldest_unqueued(self, horizon: datetime) -> datetime | None:
        """``notify_since`` of the oldest alert whose notifications were written but not queued."""
        return self._first(oldest_unqueued_query(horizon), "notify_since")


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
        schedule: EscalationSchedule | None = None,
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
        #: None and no ``repo.coll`` (fakes): no schedule, a tick every ``escalation_tick_seconds``
        coll = getattr(repo, "coll", None)
        self.schedule = schedule if schedule is not None else (EscalationSchedule(coll) if coll is not None else None)
        self._next_counts = datetime.min.replace(tzinfo=UTC)  # the open-alert gauges: not before this
        self._counted_at = datetime.min.replace(tzinfo=UTC)
        self._counts_dirty = True  # an alert changed in this process since the gauges were counted
        self._lock = threading.Lock()
        self._due = datetime.min.replace(tzinfo=UTC)  # when the next tick is needed (the first: at once)
        self._early: datetime | None = None  # the earliest time consider() was given since the tick began
        self._policy_seen: object | None = None

    @property
    def due(self) -> datetime:
        """When the loop ticks next (unless the policy changes or ``consider`` moves it earlier)."""
        with self._lock:
            return self._due

    def step(self) -> float:
        now = self.clock()
        with self._lock:
            due = now >= self._due
        if due or self.policy.current() is not self._policy_seen:
            try:
                self.tick()
            except Exception as exc:  # MongoDB away: try again next tick, never kill the loop
                log.warning("escalation tick failed: %s", type(exc).__name__)
                with self._lock:
                    self._due = now + timedelta(seconds=self.settings.escalation_tick_seconds)
        else:  # alive and on schedule: the liveness gauge moves on every wake, not only on database passes
            try:
                self.count_open(now)
            except Exception as exc:
                log.warning("open alert gauges not counted: %s", type(exc).__name__)
            m.escalation_last_tick.set(now.timestamp())
        wait = (self.due - self.clock()).total_seconds()
        # at most a tick: the policy file is looked at that often; a floor keeps an alert that cannot be
        # escalated (a race lost again and again) from spinning the loop
        return min(self.settings.escalation_tick_seconds, max(wait, 0.5))

    def consider(self, alert: dict[str, Any]) -> None:
        """An alert changed in this process: wake the loop when it falls due before the next planned tick."""
        self._counts_dirty = True
        at = self._due_time(alert)
        if at is None:
            return
        with self._lock:
            if self._early is None or at < self._early:
                self._early = at
            if at >= self._due:
                return
            self._due = at
        self.notify()

    def _due_time(self, alert: dict[str, Any]) -> datetime | None:
        status = alert.get("status")
        if status == "snoozed" and isinstance(alert.get("snoozed_until"), datetime):
            return _aware(alert["snoozed_until"])
        if status != "open" or not isinstance(alert.get("raised_at"), datetime):
            return None
        level = int(alert.get("escalation_level") or 0)
        after = self.policy.after(str(alert.get("severity")))
        if after is None or level >= self.settings.escalation_max_level:
            return None
        return _aware(alert["raised_at"]) + after * (level + 1)

    def tick(self) -> list[Escalated]:
        """One pass: snoozes that are over, due escalations, notifications a crash left, and when the next
        pass is needed. With a schedule, each kind of work is first looked up (one indexed key: the earliest
        time to come) and its query runs only when that time has come; an idle pass is one lookup each."""
        now = self.clock()
        with self._lock:
            self._early = None
        policy = self.policy.current()  # one snapshot per tick
        schedule = self.schedule
        horizon = now + timedelta(seconds=self.settings.escalation_rescan_seconds)
        nxt = horizon if schedule is not None else now + timedelta(seconds=self.settings.escalation_tick_seconds)

        # after work, something still due (more than a batch, or an alert that could not be taken) is
        # looked at again this much later, not in a loop
        again = now + timedelta(seconds=min(1.0, self.settings.escalation_tick_seconds))

        def ahead(at: datetime | None, *, after_work: bool = False) -> bool:
            """True when nothing is due yet; the earliest time to come (``at``) is kept for the next pass."""
            nonlocal nxt
            if at is None:
                return True
            if after_work:
                nxt = min(nxt, max(at, again))
            elif at > now:
                nxt = min(nxt, at)
            return at > now  # (due now: the work follows in this pass, then the time after it is kept)

        if schedule is None or not ahead(schedule.next_snooze_end(horizon)):
            for doc in self.repo.wake_snoozed(now):
                self.on_change("reopened", doc)
            if schedule is not None:
                ahead(schedule.next_snooze_end(horizon), after_work=True)  # more than a batch, or re-snoozed
        done: list[Escalated] = []
        for severity in reversed(SEVERITIES):  # most urgent first
            after = policy.escalation_after(severity)
            if after is None:  # no time configured: this severity never escalates
                continue
            for level in range(self.settings.escalation_max_level):
                span = after * (level + 1)

                def first_due() -> datetime | None:
                    assert schedule is not None
                    raised = schedule.oldest_open(severity, level, horizon - span)  # noqa: B023 - called at once
                    return None if raised is None else raised + span  # noqa: B023

                if schedule is not None and ahead(first_due()):
                    continue
                for alert in self.repo.due_for_escalation(severity, level, now - span):
                    escalated = self.escalate(alert, level + 1, now)
                    if escalated is not None:
                        done.append(escalated)
                if schedule is not None:
                    ahead(first_due(), after_work=True)  # the next one at this level (or more than a batch)
        if self.notifier is not None:
            since = schedule.oldest_unqueued(horizon - SWEEP_GRACE) if schedule is not None else None
            if schedule is None or not ahead(None if since is None else since + SWEEP_GRACE):
                self.notifier.sweep(self.repo, now)
                if schedule is not None:
                    since = schedule.oldest_unqueued(horizon - SWEEP_GRACE)
                    ahead(None if since is None else since + SWEEP_GRACE, after_work=True)
        self.count_open(now)
        m.escalation_last_tick.set(now.timestamp())
        self._policy_seen = policy
        with self._lock:
            self._due = nxt if self._early is None else min(nxt, self._early)
            self._early = None
        return done

    def count_open(self, now: datetime) -> None:
        """Refresh the open-alert gauges - the costly part of a pass (a count per severity and status) - at
        most every 10 tick periods, and only after a change in this process or 5 rescans after the last."""
        stale = now - self._counted_at >= timedelta(seconds=5 * self.settings.escalation_rescan_seconds)
        if now < self._next_counts or not (self._counts_dirty or stale):
            return
        self._counts_dirty = False
        self._counted_at = now
        self._next_counts = now + timedelta(seconds=10 * self.settings.escalation_tick_seconds)
        for severity, count in self.repo.open_counts().items():
            m.open_alerts.labels(severity).set(count)

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
