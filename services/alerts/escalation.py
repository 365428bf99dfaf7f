"""Escalation: the wall-clock loop that escalates unacknowledged alerts.

The times per severity are the ``escalation`` section of the one policy file the processor also
reads, loaded by the same code (``services.processor.domain.policy``): one parser, one set of
rules, no defaults of its own. A severity without a time never escalates. The file is re-checked
at most once per second while the service runs; a change that does not validate leaves the
previous policy in force (logged as a warning), so tuning needs no restart.

Level ``n`` is reached when an alert stays unacknowledged (status ``open``) for ``n`` times its
severity's time, counted from ``raised_at``; each level is taken by one conditional update on
``escalation_level``, so two workers never escalate the same alert twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from services.alerts import service_metrics as m
from services.alerts.settings import AlertsSettings
from services.processor.domain.policy import SEVERITIES, Policy, PolicyWatcher
from shared import outbox
from shared.background import BackgroundLoop
from shared.events.alerts import AlertEscalated
from shared.topics import ALERTS

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[2]


def resolve_policy_path(path: str | os.PathLike[str]) -> Path:
    """A relative path is taken from the working directory, else from the repository root (as the processor does)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else _ROOT / p


class EscalationPolicy:
    """The policy in force for escalation; wraps the processor's ``PolicyWatcher``.

    Construction raises ``PolicyError`` (its message names the file and the bad field) when the
    file is missing or invalid: the service refuses to start rather than escalate on guesses.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        check_every: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watcher = PolicyWatcher(resolve_policy_path(path))
        self.check_every = check_every
        self._monotonic = monotonic
        self._next_check = monotonic() + check_every
        self._failures_seen = 0
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.watcher.path

    def current(self) -> Policy:
        """The policy in force, after a reload check if the last one is over ``check_every`` seconds old."""
        with self._lock:
            now = self._monotonic()
            if now >= self._next_check:
                self._next_check = now + self.check_every
                self._check()
            return self.watcher.policy

    def _check(self) -> None:
        if self.watcher.check():
            log.warning("alert policy reloaded from %s", self.watcher.path)
        elif self.watcher.failures != self._failures_seen:  # one warning per refused change, not per check
            self._failures_seen = self.watcher.failures
            # the message names the file and field only, never a value: the policy file holds no case data
            log.warning("alert policy change refused, previous policy stays in force: %s", self.watcher.last_error)

    def after(self, severity: str) -> timedelta | None:
        """How long an unacknowledged alert of ``severity`` waits per level (None: it never escalates)."""
        return self.current().escalation_after(severity)


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
    ) -> None:
        super().__init__()
        self.settings = settings
        self.repo = repo
        self.policy = policy
        self.on_change = on_change
        self.on_outbox = on_outbox
        self.clock = clock

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
        for severity, count in self.repo.open_counts().items():
            m.open_alerts.labels(severity).set(count)
        m.escalation_last_tick.set(now.timestamp())
        return done

    def escalate(self, alert: dict[str, Any], level: int, now: datetime) -> Escalated | None:
        event = AlertEscalated(
            case_id=alert["case_id"],
            alert_id=alert["_id"],
            rule=alert["rule"],
            episode=alert["episode"],
            level=level,
            escalated_at=now,
        )
        doc = self.repo.escalate(alert["_id"], level, now, outbox.entries(ALERTS, event))
        if doc is None:  # another worker took this level, or the alert was acknowledged meanwhile
            return None
        m.escalations.labels(alert["rule"], alert["severity"]).inc()
        self.on_outbox()
        self.on_change("escalated", doc)
        return Escalated(doc, level)
