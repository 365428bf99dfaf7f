from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pytest

from services.alerts.escalation import DEFAULT_ESCALATION, EscalationPolicy, escalation_times, parse_duration
from services.alerts.notify.signing import sign, verify
from services.alerts.notify.worker import backoff
from services.alerts.settings import AlertsSettings


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("2s", 2),
        ("15m", 900),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1d", 86400),
        (90, 90),
        ("90", 90),
        ("PT15M", 900),
        (0.5, 0.5),
    ],
)
def test_parse_duration(raw: object, seconds: float) -> None:
    assert parse_duration(raw) == timedelta(seconds=seconds)


@pytest.mark.parametrize("raw", ["", "soon", "15x", "-5s", 0, True, None, "1h banana"])
def test_parse_duration_rejects(raw: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(raw)


def test_escalation_section_is_tolerant() -> None:
    times = escalation_times(
        {"escalation": {"critical": "2s", "high": "nonsense", "medium": {"after": "5m"}, "x": "1s"}}
    )
    assert times["critical"] == timedelta(seconds=2)
    assert times["high"] == DEFAULT_ESCALATION["high"]
    assert times["medium"] == timedelta(minutes=5)
    assert times["low"] == DEFAULT_ESCALATION["low"]
    assert escalation_times(None) == DEFAULT_ESCALATION
    assert escalation_times({"escalation": ["not", "a", "map"]}) == DEFAULT_ESCALATION


def test_policy_file_reloads_on_change(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    policy = EscalationPolicy(str(path))
    assert policy.after("critical") == DEFAULT_ESCALATION["critical"]  # absent file: defaults
    path.write_text("rules: {}\nescalation:\n  critical: 3s\n")
    assert policy.after("critical") == timedelta(seconds=3)
    path.write_text("escalation:\n  critical: 7s\n")
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))
    assert policy.after("critical") == timedelta(seconds=7)
    path.write_text("escalation: [unclosed\n")
    os.utime(path, (stamp + 5, stamp + 5))
    assert policy.after("critical") == timedelta(seconds=7)  # broken YAML keeps the last good times


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
