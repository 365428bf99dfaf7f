from __future__ import annotations

import logging
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.adapters.webhook_signing import sign, verify
from services.alerts.domain.messages import escalated_message
from services.alerts.service.delivery import backoff
from services.alerts.service.escalation import Escalator
from services.alerts.settings import AlertsSettings
from services.processor.domain.policy import DEFAULT_POLICY_FILE, PolicyError, load_policy

SENTINEL = "Rosa Quispe Huaman 2011-03-04"


def write_policy(path: Path, escalation: dict[str, Any] | None) -> Path:
    """The shipped policy with its ``escalation`` section replaced (None: section removed)."""
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    if escalation is None:
        doc.pop("escalation", None)
    else:
        doc["escalation"] = escalation
    path.write_text(yaml.safe_dump(doc))
    bump(path)
    return path


def bump(path: Path) -> None:
    """Move the mtime forward so that a rewrite inside one filesystem tick is still seen as a change."""
    stamp = path.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_times_come_from_the_shared_loader_without_defaults(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "policy.yaml", {"critical": "3s", "high": "2h"})
    policy = EscalationPolicy(path)
    assert policy.after("critical") == timedelta(seconds=3)
    assert policy.after("high") == timedelta(hours=2)
    # no time in the file: never escalates (no fallback default)
    assert policy.after("medium") is None
    assert policy.after("low") is None


def test_shipped_policy_is_read_exactly_as_the_processor_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default relative path still finds the shipped file
    policy = EscalationPolicy(AlertsSettings().policy_file)
    assert policy.path.resolve() == DEFAULT_POLICY_FILE
    processor = load_policy(DEFAULT_POLICY_FILE)
    for severity in ("critical", "high", "medium", "low"):
        assert policy.after(severity) is not None
        assert policy.after(severity) == processor.escalation_after(severity)


def test_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "policy.yaml"
    with pytest.raises(PolicyError, match=str(path)):
        EscalationPolicy(path)


def test_escalation_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("escalation:\n  critical: 15min\n")
    with pytest.raises(PolicyError) as err:
        EscalationPolicy(path)
    assert str(path) in str(err.value) and "rules" in str(err.value)


def test_bad_duration_at_start_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "policy.yaml", {"critical": "soon", "high": "1h"})
    with pytest.raises(PolicyError) as err:
        EscalationPolicy(path)
    assert str(path) in str(err.value) and ": escalation" in str(err.value)


def test_reload_at_most_once_per_second_and_bad_edits_keep_the_policy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    path = write_policy(tmp_path / "policy.yaml", {"critical": "3s"})
    policy = EscalationPolicy(path, monotonic=clock)
    assert policy.after("critical") == timedelta(seconds=3)

    write_policy(path, {"critical": "7s", "low": "1d"})
    clock.t += 0.5
    assert policy.after("critical") == timedelta(seconds=3)  # not re-checked within the second
    clock.t += 0.6
    assert policy.after("critical") == timedelta(seconds=7)
    assert policy.after("low") == timedelta(days=1)

    caplog.set_level(logging.WARNING, logger="services.alerts.adapters.policy_file")
    write_policy(path, {"critical": SENTINEL})  # invalid duration (and text that must never be logged)
    clock.t += 1.1
    assert policy.after("critical") == timedelta(seconds=7)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1
    assert str(path) in refused[0].getMessage() and ": escalation" in refused[0].getMessage()
    assert SENTINEL not in caplog.text and "Rosa" not in caplog.text

    path.write_text("escalation: [unclosed\n")
    bump(path)
    clock.t += 1.1
    assert policy.after("critical") == timedelta(seconds=7)  # broken YAML: previous policy stays
    clock.t += 1.1
    policy.after("critical")
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) == 2  # each bad edit warned once

    path.unlink()
    clock.t += 1.1
    assert policy.after("critical") == timedelta(seconds=7)  # a deleted file keeps it too

    write_policy(path, None)  # a valid file without escalation: nothing escalates any more
    clock.t += 1.1
    assert policy.after("critical") is None


class RecordingRepo:
    """Only what ``Escalator.tick`` calls; records which severities the loop looked at."""

    def __init__(self) -> None:
        self.queried: list[tuple[str, int, datetime]] = []

    def wake_snoozed(self, now: datetime) -> list[dict[str, Any]]:
        return []

    def due_for_escalation(self, severity: str, level: int, cutoff: datetime) -> list[dict[str, Any]]:
        self.queried.append((severity, level, cutoff))
        return []

    def open_counts(self) -> dict[str, int]:
        return {}


def test_severity_without_time_is_skipped_by_the_loop(tmp_path: Path) -> None:
    path = write_policy(tmp_path / "policy.yaml", {"critical": "10min", "high": "1h"})
    repo = RecordingRepo()
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    escalator = Escalator(
        AlertsSettings(escalation_max_level=2),
        repo,
        EscalationPolicy(path),
        on_change=lambda c, d: None,
        on_outbox=lambda: None,
        clock=lambda: now,
    )
    assert escalator.tick() == []
    assert sorted((s, lvl, now - c) for s, lvl, c in repo.queried) == [
        ("critical", 0, timedelta(minutes=10)),
        ("critical", 1, timedelta(minutes=20)),
        ("high", 0, timedelta(hours=1)),
        ("high", 1, timedelta(hours=2)),
    ]


def test_escalation_email_without_a_time_in_force() -> None:
    alert = {
        "_id": "al_1",
        "case_id": "case-9",
        "rule": "service.overdue",
        "severity": "low",
        "summary": "session overdue",
        "raised_at": datetime(2025, 1, 1, tzinfo=UTC),
    }
    msg = escalated_message(AlertsSettings(), alert, 2, None, "en")
    assert "level 2" in msg["subject"]
    assert "not been acknowledged and reached escalation level 2." in msg["body"]
    assert "within" not in msg["body"]
    timed = escalated_message(AlertsSettings(), alert, 2, timedelta(minutes=30), "en")
    assert "within 1 hour" in timed["body"]


def test_signature_round_trip_and_tampering() -> None:
    ts = str(int(time.time()))
    body = b'{"id":"e1"}'
    sig = sign("s3cret-0123456789", ts, body)
    assert sig.startswith("sha256=") and len(sig) == 7 + 64
    assert verify("s3cret-0123456789", ts, body, sig)
    assert not verify("s3cret-0123456789", ts, body + b" ", sig)
    assert not verify("other-secret-000000", ts, body, sig)
    assert not verify("s3cret-0123456789", str(int(ts) + 1), body, sig)
    old = str(int(time.time()) - 3600)
    assert not verify("s3cret-0123456789", old, body, sign("s3cret-0123456789", old, body))
    assert not verify("s3cret-0123456789", "not-a-number", body, sig)


def test_backoff_doubles_and_caps() -> None:
    s = AlertsSettings(notify_backoff_base_seconds=1, notify_backoff_max_seconds=5)
    assert [backoff(s, n).total_seconds() for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
