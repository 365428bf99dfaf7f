"""Issue 18 through the running services: intake, legal, the alerts processor and the alerts service as
real processes on the real broker and database, an SMTP server and a webhook receiver on loopback.

* A back-dated history (a 200-update REST batch, and the caseload import) raises no alert and sends
  no notification for a condition that ended before now; a condition still open today is alerted.
* An open alert's summary follows its evidence (``centinela.alert.updated``), and the change is in
  the alert's history.
* A policy file naming two rules starts the services; every other rule keeps its shipped default.

The policy here keeps the real thresholds (90 days of silence, 2 days for a hearing's outcome):
the history is back-dated by months, so only what is still true today may alert.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.processor.domain.policy import DEFAULT_POLICY_FILE
from tests.e2e.stack import Stack, StackConfig, StartStack
from tests.e2e.test_alert_flow import ADVOCATE, ORG, PROVIDER_ORG, register_case
from tests.support import wait_for

pytestmark = pytest.mark.e2e

SOURCE = "fiscalia-h18"
ADVOCATE_MAIL = "advocate@e2e.test"
# the operator's file names two rules only; everything else comes from the shipped policy
POLICY_FILE = {
    "rules": {
        "legal.hearing_outcome_missing": {"severity": "critical"},
        "legal.no_activity": {"severity": "high"},
    }
}


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(
        StackConfig(
            "h18",
            org=ORG,
            advocate=ADVOCATE,
            policy=POLICY_FILE,
            mail=True,
            webhooks=True,
            directory=[(ADVOCATE, "legal_advocate", ADVOCATE_MAIL)],
        )
    )


# -- helpers ----------------------------------------------------------------------------------------


def _at(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).isoformat()


def _upd(case_id: str, kind: str, days_ago: float, **fields: Any) -> dict[str, Any]:
    return {
        "source_system": SOURCE,
        "update_id": f"h18-{uuid.uuid4().hex[:12]}",
        "case_id": case_id,
        "kind": kind,
        "occurred_at": _at(days_ago),
        **fields,
    }


def _history(case_id: str, hearings: int, start_days_ago: int) -> list[dict[str, Any]]:
    """A long prosecution's past: stages, representation, a 180-day silence in the middle (a
    ``legal.no_activity`` and a ``legal.stage_overdue`` back then), then hearings each reported held
    five days after its date (a ``legal.hearing_outcome_missing`` back then), the last one 8 days ago."""
    t = start_days_ago
    out = [
        _upd(case_id, "stage_changed", t, stage="preliminary_investigation"),
        _upd(case_id, "legal_representation_assigned", t - 1, representative_ref="defensa-h18"),
        _upd(case_id, "stage_changed", t - 20, stage="preparatory_investigation"),
        # 180 days without a word: stalled, and the preparatory term (120 d) ran out — both then
        _upd(case_id, "stage_changed", t - 200, stage="intermediate_stage"),
        _upd(case_id, "stage_changed", t - 205, stage="trial"),
    ]
    first = t - 210
    step = (first - 20) / hearings
    for i in range(hearings):
        when = first - i * step
        hid = f"h-{i}"
        out.append(_upd(case_id, "hearing_scheduled", when, hearing_id=hid, scheduled_for=_at(when - 1)))
        out.append(_upd(case_id, "hearing_held", when - 6, hearing_id=hid))
    return out


def _stays_empty(fn: Callable[[], list[Any]], seconds: float) -> None:
    """Absence is proven over a window: polled to its end, failing at the first thing that shows up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = fn()
        assert found == [], found
        time.sleep(0.5)


# -- 1. back-dated history ------------------------------------------------------------------------------


def test_a_200_update_back_dated_batch_alerts_only_what_is_still_open(stack: Stack) -> None:
    s = stack
    quiet_case = register_case(s)
    open_case = register_case(s)
    updates = _history(quiet_case, hearings=73, start_days_ago=500)  # 151 updates
    tail = _history(open_case, hearings=21, start_days_ago=400)  # 47 updates
    # today: a hearing five days ago whose outcome nobody reported is still missing
    tail.append(_upd(open_case, "hearing_scheduled", 12, hearing_id="h-open", scheduled_for=_at(5)))
    tail.append(_upd(open_case, "legal_representation_assigned", 7, representative_ref="defensa-h18b"))
    updates += tail
    assert len(updates) == 200
    s.court_updates(updates, source=SOURCE)

    alert = s.wait_alert(open_case, "legal.hearing_outcome_missing", timeout=90, status="open")
    assert alert["severity"] == "critical"  # from the operator's file
    evidence = str(s.alert_detail(alert["id"])["evidence"])
    assert "h-open" in evidence
    wait_for(lambda: s.notified(open_case, ADVOCATE_MAIL) or None, timeout=30, what="notification of the open hearing")

    # the open case had one alert only: nothing of its past (stall, overdue stage, old hearings)
    assert [a["rule"] for a in s.alerts_of(open_case)] == ["legal.hearing_outcome_missing"]
    assert "'h-0'" not in evidence
    # and the case whose conditions all ended before now: no alert, no e-mail, no webhook
    _stays_empty(lambda: s.alerts_of(quiet_case) + s.notified(quiet_case, ADVOCATE_MAIL), seconds=5)


def test_the_caseload_import_alerts_only_what_is_still_open(stack: Stack, tmp_path: Path) -> None:
    s = stack
    past_case = register_case(s)
    open_case = register_case(s)
    lima = "-05:00"

    def day(days_ago: float) -> str:
        return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S") + lima

    # two trials under way; the open case's hearing 4 days ago has no outcome (it was "upcoming" from
    # 7 to 4 days ago: a condition that ended before now, not alerted)
    csv = tmp_path / "cases.csv"
    csv.write_text(
        "case_id,stage,stage_started_at,complexity,hearings\n"
        f"{past_case},trial,{day(40)},ordinary,\n"
        f"{open_case},trial,{day(30)},ordinary,h-1@{day(4)}\n"
    )
    token = s.headers("supervisor", "sup-h18")["Authorization"].removeprefix("Bearer ")
    run = subprocess.run(
        [sys.executable, "-m", "services.legal.cli", "import", str(csv), "--url", s.legal.url, "--token", token],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    alert = s.wait_alert(open_case, "legal.hearing_outcome_missing", timeout=90, status="open")
    assert "h-1" in str(s.alert_detail(alert["id"])["evidence"])
    wait_for(lambda: s.notified(open_case, ADVOCATE_MAIL) or None, timeout=30, what="notification of the open hearing")
    assert [a["rule"] for a in s.alerts_of(open_case)] == ["legal.hearing_outcome_missing"]
    _stays_empty(lambda: s.alerts_of(past_case) + s.notified(past_case, ADVOCATE_MAIL), seconds=5)


# -- 2. the summary follows the evidence ----------------------------------------------------------------


def test_an_open_alerts_summary_follows_its_evidence_and_keeps_the_old_one_in_history(stack: Stack) -> None:
    s = stack
    case_id = register_case(s)
    due = datetime.now(UTC) - timedelta(hours=1)
    service_id = s.plan_service(case_id, "psychosocial", due, PROVIDER_ORG, sessions_planned=6, interval_days=7)

    def missed(minutes_ago: int) -> None:
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        s.record_session(case_id, service_id, PROVIDER_ORG, outcome="missed", at=at)

    missed(30)
    missed(20)
    alert = s.wait_alert(case_id, "service.missed_consecutive", status="open")
    first_summary = s.alert_detail(alert["id"])["summary"]
    assert "2" in first_summary
    # a third miss: still the same alert (not cleared, no second one), now saying three
    missed(10)

    def updated() -> dict[str, Any] | None:
        a = s.alert_detail(alert["id"])
        return a if a["summary"] != first_summary and a["status"] == "open" else None

    now_alert = wait_for(updated, timeout=60, interval=0.3, what="the alert's summary to follow its evidence")
    assert now_alert["id"] == alert["id"]
    assert "3" in now_alert["summary"]
    assert [a["rule"] for a in s.alerts_of(case_id)].count("service.missed_consecutive") == 1
    detail = now_alert
    assert any(h.get("action") == "updated" and "evidence" in h.get("changed", []) for h in detail["history"]), detail
    # what it said before is kept in the history
    assert any(h.get("previous_summary") == first_summary for h in detail["history"]), detail["history"]


# -- 3. a policy file naming two rules ------------------------------------------------------------------


def test_a_policy_file_naming_two_rules_keeps_every_other_default(stack: Stack) -> None:
    s = stack
    r = httpx.get(f"{s.alerts.url}/v1/admin/policy", headers=s.headers("admin", "admin-h18", org=None), timeout=10)
    assert r.status_code == 200, r.text
    effective = r.json()
    shipped = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    assert set(effective["rules"]) == set(shipped["rules"])
    assert effective["rules"]["legal.hearing_outcome_missing"]["severity"] == "critical"
    assert effective["rules"]["legal.no_activity"]["severity"] == "high"
    overridden = {rid for rid, cfg in effective["rules"].items() if cfg["overridden"]}
    assert overridden == {"legal.hearing_outcome_missing", "legal.no_activity"}
    for rid, cfg in shipped["rules"].items():
        if rid not in overridden:
            assert effective["rules"][rid]["severity"] == cfg["severity"], rid
    assert effective["rules"]["legal.no_activity"]["after"] == shipped["rules"]["legal.no_activity"]["after"]
    assert effective["publish_alert_updates"] is True
