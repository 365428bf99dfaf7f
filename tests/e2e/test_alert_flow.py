"""The whole stack through its APIs: intake, legal, the alerts processor and the alerts service as
real processes on the real broker and database, with a real SMTP server and a webhook receiver on
loopback, and a policy whose thresholds are seconds.

What an advocate would see: a planned psychosocial session that is never recorded becomes a
``service.overdue`` alert in their inbox, by e-mail and by webhook; recording the session resolves
it by itself; a stage left without court updates becomes ``legal.stage_overdue``; a risk flag is
``risk.revictimisation`` at once; an alert nobody acknowledges escalates to the supervisor; another
advocate can neither see nor acknowledge it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.alerts.adapters.webhook_signing import verify
from tests.e2e.stack import Stack, StackConfig, StartStack, quiet_policy
from tests.support import wait_for

pytestmark = pytest.mark.e2e

ORG = "org-e2e"
ADVOCATE = "adv-e2e"
OTHER_ADVOCATE = "adv-other"
SUPERVISOR = "sup-e2e"
PROVIDER_ORG = "prov-e2e"
SOURCE = "fiscalia-e2e"
ESCALATE_AFTER = 4  # seconds, every severity
SENTINEL_NAME = f"Sentinela{uuid.uuid4().hex[:8]}"


DIRECTORY = (
    (ADVOCATE, "legal_advocate", "advocate@e2e.test"),
    (SUPERVISOR, "supervisor", "supervisor@e2e.test"),
)
CONFIG = StackConfig(
    "e2e",
    org=ORG,
    advocate=ADVOCATE,
    # seconds where this test drives a rule; every other time-based rule an hour out
    policy=quiet_policy({"service.overdue": {"after": "2s"}}, escalation=f"{ESCALATE_AFTER}s"),
    deadlines={"stages": {"preliminary_investigation": {"ordinary": {"term": "3s"}}}},
    mail=True,
    webhooks=True,
    directory=DIRECTORY,
)


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(CONFIG)


def register_case(s: Stack, family_name: str | None = None) -> str:
    # a different child each time unless asked (the same name and birth date is a re-registration)
    return s.register_case(given_names=SENTINEL_NAME, family_names=family_name)


def test_missed_psychosocial_session_alerts_the_advocate_and_resolves_itself(stack: Stack) -> None:
    s = stack
    case_id = register_case(s)
    due = datetime.now(UTC) + timedelta(seconds=1)
    service_id = s.plan_service(case_id, "psychosocial", due, PROVIDER_ORG, sessions_planned=1)

    alert = s.wait_alert(case_id, "service.overdue", status="open")
    assert alert["severity"] == "medium"

    # by e-mail to the advocate: the case and the rule, never the child's name
    def mail() -> Any:
        msgs = [m for m in s.mail_to("advocate@e2e.test") if case_id in m.as_string()]
        return msgs[0] if msgs else None

    message = wait_for(mail, timeout=30, what="alert e-mail to the advocate")
    text = message.as_string()
    assert "service.overdue" in text
    assert SENTINEL_NAME not in text

    # by webhook, signed
    def hook() -> Any:
        for req in s.webhook_requests():
            if case_id.encode() in req["body"] and b"service.overdue" in req["body"]:
                return req
        return None

    req = wait_for(hook, timeout=30, what="webhook delivery")
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert verify(s.webhook_secret, headers["x-centinela-timestamp"], req["body"], headers["x-centinela-signature"])
    assert SENTINEL_NAME.encode() not in req["body"]

    # another advocate of the same organisation can neither see nor acknowledge it
    other = s.headers("legal_advocate", OTHER_ADVOCATE)
    assert httpx.get(f"{s.alerts.url}/v1/alerts/{alert['id']}", headers=other, timeout=10).status_code == 404
    assert (
        httpx.post(f"{s.alerts.url}/v1/alerts/{alert['id']}/ack", json={}, headers=other, timeout=10).status_code == 404
    )
    assert s.alerts_of(case_id, sub=OTHER_ADVOCATE) == []

    # the provider records the session: the alert resolves itself and says why
    s.record_session(case_id, service_id, PROVIDER_ORG)
    resolved = s.wait_alert(case_id, "service.overdue", status="resolved")
    detail = httpx.get(
        f"{s.alerts.url}/v1/alerts/{resolved['id']}", headers=s.headers("legal_advocate", ADVOCATE), timeout=10
    )
    assert detail.json()["resolved_auto"] is True
    assert detail.json()["resolution_reason"]


def test_a_stage_without_court_updates_becomes_stage_overdue(stack: Stack) -> None:
    s = stack
    case_id = register_case(s)
    integrator = s.headers("court_integrator", "sgf-e2e", org=None, source_system=SOURCE)
    update = {
        "source_system": SOURCE,
        "update_id": f"u-{uuid.uuid4().hex[:8]}",
        "case_id": case_id,
        "kind": "stage_changed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "stage": "preliminary_investigation",
    }
    r = httpx.post(f"{s.legal.url}/v1/court-updates", json=update, headers=integrator, timeout=10)
    assert r.status_code == 200, r.text
    assert json.dumps(r.json()).count("accepted") >= 1, r.text
    alert = s.wait_alert(case_id, "legal.stage_overdue", status="open")
    assert alert["severity"] == "high"


def test_risk_flag_alerts_at_once_and_escalates_when_nobody_acknowledges(stack: Stack) -> None:
    s = stack
    case_id = register_case(s)
    r = httpx.post(
        f"{s.intake.url}/v1/cases/{case_id}/risk-flags",
        json={"kind": "contact_with_trafficker", "severity": "high"},
        headers=s.headers("intake_officer", "officer-e2e"),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    alert = s.wait_alert(case_id, "risk.revictimisation", timeout=30)
    assert alert["severity"] == "critical"

    # nobody acknowledges: after the escalation time it goes to the organisation's supervisor
    escalated = s.wait_alert(case_id, "risk.revictimisation", timeout=60, escalation_level=1)
    assert escalated["id"] == alert["id"]
    wait_for(
        lambda: any(case_id in m.as_string() for m in s.mail_to("supervisor@e2e.test")),
        timeout=30,
        what="escalation e-mail to the supervisor",
    )
    supervisor_inbox = httpx.get(
        f"{s.alerts.url}/v1/alerts",
        params={"case_id": case_id},
        headers=s.headers("supervisor", SUPERVISOR),
        timeout=10,
    ).json()
    assert [a["id"] for a in supervisor_inbox["items"]] == [alert["id"]], [
        (a["rule"], a.get("episode"), a["status"], a["summary"]) for a in supervisor_inbox["items"]
    ]

    # the advocate acknowledges; the other advocate still cannot
    ack = httpx.post(
        f"{s.alerts.url}/v1/alerts/{alert['id']}/ack",
        json={"comment": "calling the shelter"},
        headers=s.headers("legal_advocate", ADVOCATE),
        timeout=10,
    )
    assert ack.status_code == 200, ack.text
    assert s.wait_alert(case_id, "risk.revictimisation", status="acknowledged")["id"] == alert["id"]


def test_the_same_child_in_a_new_case_is_a_revictimisation_signal(stack: Stack) -> None:
    s = stack
    family = uuid.uuid4().hex[:10]
    first = register_case(s, family)
    second = register_case(s, family)
    alert = s.wait_alert(second, "risk.revictimisation", timeout=30)
    assert alert["severity"] == "critical"
    evidence = httpx.get(
        f"{s.alerts.url}/v1/alerts/{alert['id']}", headers=s.headers("legal_advocate", ADVOCATE), timeout=10
    ).json()["evidence"]
    assert evidence["signal"] == "reregistered"
    # the earlier case's advocate is told too (issue 13 item 9): one alert on the earlier case,
    # whose text names no other case (same organisation here, but the rule never lists ids)
    earlier = s.wait_alert(first, "risk.revictimisation", timeout=30)
    assert earlier["id"] != alert["id"]
    detail = httpx.get(
        f"{s.alerts.url}/v1/alerts/{earlier['id']}", headers=s.headers("legal_advocate", ADVOCATE), timeout=10
    ).json()
    assert detail["evidence"]["signal"] == "registered_again"
    assert second not in detail["summary"]
    assert [a["rule"] for a in s.alerts_of(first)] == ["risk.revictimisation"]
