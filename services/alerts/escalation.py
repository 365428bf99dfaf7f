"""Escalation: the ``escalation`` section of the policy file and the wall-clock loop that applies it.

The processor helper owns ``policy.yaml``; this module only reads its ``escalation`` section
(``{critical: "15m", high: "1h", ...}``) with a tolerant parser, so a typo in one severity falls
back to that severity's default instead of stopping escalation for every alert. The file is
re-read when its modification time changes: tuning needs no restart.

Level ``n`` is reached when an alert stays unacknowledged (status ``open``) for ``n`` times its
severity's time, counted from ``raised_at``; each level is taken by one conditional update on
``escalation_level``, so two workers never escalate the same alert twice.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from services.alerts import service_metrics as m
from services.alerts.settings import AlertsSettings
from shared import outbox
from shared.events.alerts import AlertEscalated
from shared.topics import ALERTS

log = logging.getLogger(__name__)

SEVERITIES = ("critical", "high", "medium", "low")
DEFAULT_ESCALATION: dict[str, timedelta] = {
    "critical": timedelta(minutes=15),
    "high": timedelta(hours=1),
    "medium": timedelta(hours=4),
    "low": timedelta(hours=24),
}
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")


def parse_duration(value: Any) -> timedelta:
    """``"15m"``, ``"1h30m"``, ``"2s"``, ``"1d"``, ``90`` (seconds) or ISO ``"PT15M"``; > 0 or ValueError."""
    if isinstance(value, bool):
        raise ValueError("duration must be a number or a string like 15m")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower()
        if text.startswith("pt") or text.startswith("p"):
            text = text.lstrip("p").lstrip("t").replace("t", "")
        if re.fullmatch(r"\d+(?:\.\d+)?", text):
            seconds = float(text)
        else:
            parts = _PART.findall(text)
            if not parts or _PART.sub("", text).strip():
                raise ValueError("duration must look like 90, 2s, 15m, 1h30m, 1d")
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise ValueError("duration must be a number or a string like 15m")
    if seconds <= 0:
        raise ValueError("duration must be positive")
    return timedelta(seconds=seconds)


def escalation_times(doc: Any) -> dict[str, timedelta]:
    """The per-severity times from a parsed policy document; unknown or bad entries keep the default."""
    times = dict(DEFAULT_ESCALATION)
    section = doc.get("escalation") if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        return times
    for severity, raw in section.items():
        if severity not in times:
            continue
        value = raw
        if isinstance(raw, dict):  # tolerate {critical: {after: 15m}} shapes
            value = next((raw[k] for k in ("after", "ack_within", "duration", "time") if k in raw), None)
        try:
            times[severity] = parse_duration(value)
        except ValueError as exc:
            log.warning("escalation time for %s ignored: %s", severity, exc)
    return times


class EscalationPolicy:
    """Escalation times read from ``path``; reloaded when the file changes, defaults when it is absent."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime: float | None = None
        self._times = dict(DEFAULT_ESCALATION)
        self._lock = threading.Lock()

    def times(self) -> dict[str, timedelta]:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError:
            return dict(self._times)
        with self._lock:
            if mtime != self._mtime:
                try:
                    with open(self.path, encoding="utf-8") as fh:
                        self._times = escalation_times(yaml.safe_load(fh))
                    log.info("escalation policy loaded", extra={"rule": "escalation"})
                except (OSError, yaml.YAMLError) as exc:
                    log.warning("policy file unreadable, keeping previous escalation times: %s", type(exc).__name__)
                self._mtime = mtime
            return dict(self._times)

    def after(self, severity: str) -> timedelta:
        return self.times().get(severity, DEFAULT_ESCALATION["low"])


@dataclass
class Escalated:
    alert: dict[str, Any]
    level: int


class Escalator:
    """One wall-clock loop per service process; safe to run in several processes at once."""

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
        self.settings = settings
        self.repo = repo
        self.policy = policy
        self.on_change = on_change
        self.on_outbox = on_outbox
        self.clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alerts-escalator", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # MongoDB away: try again next tick, never kill the loop
                log.warning("escalation tick failed: %s", type(exc).__name__)
            self._stop.wait(self.settings.escalation_tick_seconds)

    def tick(self) -> list[Escalated]:
        now = self.clock()
        for doc in self.repo.wake_snoozed(now):
            self.on_change("reopened", doc)
        done: list[Escalated] = []
        times = self.policy.times()
        for severity in SEVERITIES:
            after = times[severity]
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
