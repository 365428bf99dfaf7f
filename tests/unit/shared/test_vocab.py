from __future__ import annotations

from typing import get_args

import pytest

from shared import vocab
from shared.events import alerts as alert_events
from shared.events import case as case_events


def test_event_literals_match_vocab() -> None:
    # The events predate vocab; until they import it, they must not drift from it.
    assert get_args(alert_events.Severity) == vocab.SEVERITIES
    assert get_args(case_events.CaseStatus) == vocab.CASE_STATUSES
    assert get_args(case_events.ReferralStatus) == vocab.REFERRAL_STATUSES


def test_severities_ordered_least_to_most_urgent() -> None:
    assert vocab.SEVERITIES == ("low", "medium", "high", "critical")
    assert vocab.severity_rank("critical") > vocab.severity_rank("high") > vocab.severity_rank("low")
    with pytest.raises(ValueError):
        vocab.severity_rank("urgent")


def test_closed_and_open_statuses_partition_case_statuses() -> None:
    assert vocab.CLOSED_STATUSES | vocab.OPEN_STATUSES == set(vocab.CASE_STATUSES)
    assert not vocab.CLOSED_STATUSES & vocab.OPEN_STATUSES
    assert vocab.CLOSED_STATUSES == {"Closed", "ClosedReferred"}
    assert vocab.ACTIVE_ALERT_STATUSES < set(vocab.ALERT_STATUSES)
    assert "resolved" not in vocab.ACTIVE_ALERT_STATUSES


def test_id_patterns() -> None:
    assert vocab.CASE_ID_RE.match("cs_" + "a" * 22)
    assert not vocab.CASE_ID_RE.match("cs_" + "a" * 21)
    assert vocab.ITEM_ID_RE.match("sv_" + "B" * 16)
    assert not vocab.ITEM_ID_RE.match("xx_" + "B" * 16)
    assert vocab.ALERT_ID_RE.match(alert_events.alert_id_for("cs_x", "service.overdue", 1))
    assert vocab.EXTERNAL_ID_RE.match("PJ-2024:0001.a")
    assert not vocab.EXTERNAL_ID_RE.match("a" * 65)
    assert not vocab.EXTERNAL_ID_RE.match("has space")
    assert not vocab.EXTERNAL_ID_RE.match("../etc")
    assert vocab.CODE_RE.match("hearing_postponed")
    assert not vocab.CODE_RE.match("Hearing")
