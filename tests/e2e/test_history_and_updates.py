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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.settings import CommonSettings
from tests.e2e.test_alert_flow import ADVOCATE, ORG, PROVIDER_ORG, Stack, register_case
from tests.support import Mailbox, Proc, Receiver, free_port, isolated_env, uvicorn_args, wait_for

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
def stack(
    stack_env: dict[str, str],
    db_name: Callable[[str], str],
    log_dir: Path,
    procs: list[Proc],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e-h18")
    env = isolated_env(stack_env)  # its own topics and consumer groups
    mailbox = Mailbox(port=free_port())
    smtp = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
    smtp.start()
    receiver = Receiver()
    receiver.start()
    policy = tmp / "policy.yaml"
    policy.write_text(yaml.safe_dump(POLICY_FILE))

    def start(name: str, args: list[str], extra: dict[str, str], port: int) -> Proc:
        proc = Proc(name, args, {**env, **extra}, log_dir, port=port)
        procs.append(proc)
        return proc

    ports = [free_port() for _ in range(4)]
    intake = start(
        "h18-intake",
        uvicorn_args("services.intake.main:app", ports[0]),
        {"CENTINELA_MONGO_DB": db_name("h18_intake")},
        ports[0],
    )
    legal = start(
        "h18-legal",
        uvicorn_args("services.legal.main:app", ports[1]),
        {"CENTINELA_MONGO_DB": db_name("h18_legal")},
        ports[1],
    )
    alerts = start(
        "h18-alerts",
        uvicorn_args("services.alerts.main:app", ports[2]),
        {
            "CENTINELA_MONGO_DB": db_name("h18_alerts"),
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_SMTP_HOST": "127.0.0.1",
            "CENTINELA_SMTP_PORT": str(mailbox.port),
            "CENTINELA_PUBLIC_BASE_URL": "https://centinela.e2e",
            "CENTINELA_NOTIFY_POLL_SECONDS": "0.2",
            "CENTINELA_NOTIFY_BACKOFF_BASE_SECONDS": "0.2",
            "CENTINELA_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        },
        ports[2],
    )
    processor = start(
        "h18-processor",
        [sys.executable, "-m", "services.processor", "worker", "--web-port", str(ports[3]), "-l", "warn"],
        {
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_PROCESSOR_TICK_SECONDS": "0.5",
            "CENTINELA_PROCESSOR_DATADIR": str(tmp / "processor-data"),
        },
        ports[3],
    )
    for p in (intake, legal, alerts):
        p.wait_ready()
    processor.wait_ready("/readyz", timeout=90)
    settings = CommonSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"]
    )
    s = Stack(intake, legal, alerts, processor, settings, mailbox, receiver, webhook_secret=uuid.uuid4().hex)
    admin = s.headers("admin", "admin-h18", org=None)
    r = httpx.put(
        f"{alerts.url}/v1/directory/{ADVOCATE}",
        json={"email": ADVOCATE_MAIL, "org_id": ORG, "role": "legal_advocate"},
        headers=admin,
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    r = httpx.post(
        f"{alerts.url}/v1/subscriptions",
        json={"url": receiver.url, "secret": s.webhook_secret},
        headers=admin,
        timeout=10,
    )
    assert r.status_code in (200, 201), r.text
    yield s
    receiver.stop()
    smtp.stop()


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


def _post(s: Stack, updates: list[dict[str, Any]]) -> dict[str, Any]:
    integrator = s.headers("court_integrator", "sgf-h18", org=None, source_system=SOURCE)
    r = httpx.post(f"{s.legal.url}/v1/court-updates", json={"updates": updates}, headers=integrator, timeout=120)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert all(res.get("status") == "accepted" for res in body["results"]), body
    return body


def _detail(s: Stack, alert_id: str) -> dict[str, Any]:
    r = httpx.get(f"{s.alerts.url}/v1/alerts/{alert_id}", headers=s.headers("legal_advocate", ADVOCATE), timeout=10)
    r.raise_for_status()
    body: dict[str, Any] = r.json()
    return body


def _notified(s: Stack, case_id: str) -> list[str]:
    """What reached the advocate by e-mail or any webhook about ``case_id``."""
    mails = [m.as_string() for m in s.mailbox.to(ADVOCATE_MAIL) if case_id in m.as_string()]
    with s.receiver.lock:
        hooks = [req["body"].decode() for req in s.receiver.requests if case_id.encode() in req["body"]]
    return mails + hooks


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
    _post(s, updates)

    alert = s.wait_alert(open_case, "legal.hearing_outcome_missing", timeout=90, status="open")
    assert alert["severity"] == "critical"  # from the operator's file
    evidence = str(_detail(s, alert["id"])["evidence"])
    assert "h-open" in evidence
    wait_for(lambda: _notified(s, open_case) or None, timeout=30, what="notification of the open hearing")

    # the open case had one alert only: nothing of its past (stall, overdue stage, old hearings)
    assert [a["rule"] for a in s.alerts_of(open_case)] == ["legal.hearing_outcome_missing"]
    assert "'h-0'" not in evidence
    # and the case whose conditions all ended before now: no alert, no e-mail, no webhook
    _stays_empty(lambda: s.alerts_of(quiet_case) + _notified(s, quiet_case), seconds=5)


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
    assert "h-1" in str(_detail(s, alert["id"])["evidence"])
    wait_for(lambda: _notified(s, open_case) or None, timeout=30, what="notification of the open hearing")
    assert [a["rule"] for a in s.alerts_of(open_case)] == ["legal.hearing_outcome_missing"]
    _stays_empty(lambda: s.alerts_of(past_case) + _notified(s, past_case), seconds=5)


# -- 2. the summary follows the evidence ----------------------------------------------------------------


def test_an_open_alerts_summary_follows_its_evidence_and_keeps_the_old_one_in_history(stack: Stack) -> None:
    s = stack
    case_id = register_case(s)
    officer = s.headers("intake_officer", "officer-h18")
    r = httpx.post(
        f"{s.intake.url}/v1/cases/{case_id}/services",
        json={
            "service_kind": "psychosocial",
            "provider_org_id": PROVIDER_ORG,
            "first_due_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "sessions_planned": 6,
            "interval_days": 7,
        },
        headers=officer,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    service_id = r.json()["service_id"]
    provider = s.headers("service_provider", "provider-h18", org=PROVIDER_ORG)

    def missed(minutes_ago: int) -> None:
        r = httpx.post(
            f"{s.intake.url}/v1/cases/{case_id}/services/{service_id}/sessions",
            json={"outcome": "missed", "occurred_at": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()},
            headers=provider,
            timeout=10,
        )
        assert r.status_code == 201, r.text

    missed(30)
    missed(20)
    alert = s.wait_alert(case_id, "service.missed_consecutive", status="open")
    first_summary = _detail(s, alert["id"])["summary"]
    assert "2" in first_summary
    # a third miss: still the same alert (not cleared, no second one), now saying three
    missed(10)

    def updated() -> dict[str, Any] | None:
        a = _detail(s, alert["id"])
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
