"""Issue 13 item 8 through the running services: an alert follows the case's current advocate, and
its history is kept. Intake, legal, the alerts processor and the alerts service run as real processes
on the real broker and database (tests/e2e/stack.py), with an SMTP server on loopback and a policy
where only ``risk.revictimisation`` and ``service.overdue`` (2 seconds) are on.

The story, on one case registered for advocate A:

* before: a psychosocial session goes overdue and is recorded (a resolved ``service.overdue``), two
  risk flags raise two ``risk.revictimisation`` alerts, A acknowledges one. A sees the three, advocate
  B sees none and gets 404 on each.
* an intake officer reassigns the case to B (PATCH /v1/cases/{id}, If-Match): the two unresolved
  alerts, with the same ids, move to B's inbox and out of A's (404 for A); B is e-mailed about each;
  each keeps its history (raised, A's acknowledgement, reassigned from A to B) in GET
  /v1/alerts/{id} and on the ``alerts`` topic (``centinela.alert.updated`` naming both advocates).
  The resolved alert stays in A's inbox as the record of what A handled.
* after: a health session goes overdue; its alert goes to B only (inbox and e-mail), never to A.
* the organisation's supervisor sees every one of these alerts throughout.

Absence is proven by polling over a window, never by sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import Message

import httpx
import pytest

from shared.events import Event
from shared.events.alerts import AlertUpdated
from tests.e2e.stack import Stack, StackConfig, StartStack, quiet_policy
from tests.support import wait_for

pytestmark = pytest.mark.e2e

ORG = "org-reassign"
ADVOCATE_A = "adv-a-reassign"
ADVOCATE_B = "adv-b-reassign"
SUPERVISOR = "sup-reassign"
OFFICER = "officer-reassign"
PROVIDER_ORG = "prov-reassign"
MAIL = {ADVOCATE_A: "a@reassign.test", ADVOCATE_B: "b@reassign.test", SUPERVISOR: "sup@reassign.test"}
SERVICE_AFTER = 2  # seconds after a session's due date before it is overdue
# deadlines for what the services do through the broker: generous, the machine is shared and loaded;
# the first alert of the module also waits for every consumer to join its group
FIRST_ALERT = 90
TIMEOUT = 60
RISK = "risk.revictimisation"
OVERDUE = "service.overdue"

CONFIG = StackConfig(
    "reassign",
    org=ORG,
    advocate=ADVOCATE_A,
    policy=quiet_policy({RISK: {}, OVERDUE: {"after": f"{SERVICE_AFTER}s"}}, only=True),
    mail=True,
    directory=(
        (ADVOCATE_A, "legal_advocate", MAIL[ADVOCATE_A]),
        (ADVOCATE_B, "legal_advocate", MAIL[ADVOCATE_B]),
        (SUPERVISOR, "supervisor", MAIL[SUPERVISOR]),
    ),
)


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    return start_stack(CONFIG)


# -- helpers ----------------------------------------------------------------------------------------------


def _inbox(s: Stack, case_id: str, sub: str, role: str = "legal_advocate") -> dict[str, str]:
    """``sub``'s inbox for the case: alert id -> status."""
    return {a["id"]: a["status"] for a in s.alerts_of(case_id, sub=sub, role=role)}


def _supervisor_inbox(s: Stack, case_id: str) -> dict[str, str]:
    return _inbox(s, case_id, SUPERVISOR, role="supervisor")


def _detail_status(s: Stack, alert_id: str, sub: str) -> int:
    r = httpx.get(f"{s.alerts.url}/v1/alerts/{alert_id}", headers=s.advocate_headers(sub), timeout=10)
    return r.status_code


def _raise_flag(s: Stack, case_id: str, kind: str) -> None:
    r = httpx.post(
        f"{s.intake.url}/v1/cases/{case_id}/risk-flags",
        json={"kind": kind, "severity": "high"},
        headers=s.headers("intake_officer", OFFICER),
        timeout=10,
    )
    assert r.status_code == 201, r.text


def _reassign(s: Stack, case_id: str, advocate: str) -> None:
    """An intake officer names another advocate for the case (read its ETag, PATCH with If-Match)."""
    officer = s.headers("intake_officer", OFFICER)
    read = httpx.get(f"{s.intake.url}/v1/cases/{case_id}", headers=officer, timeout=10)
    assert read.status_code == 200, read.text
    r = httpx.patch(
        f"{s.intake.url}/v1/cases/{case_id}",
        json={"advocate_id": advocate},
        headers={**officer, "If-Match": read.headers["ETag"]},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["advocate_id"] == advocate, r.json()


def _mail_text(m: Message) -> str:
    """A message's subject and decoded body parts (Spanish by default: the body may be encoded)."""
    parts = [str(m["Subject"])]
    for part in m.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode(part.get_content_charset() or "utf-8", errors="replace"))
    return "\n".join(parts)


def _mails_about(s: Stack, sub: str, alert_id: str) -> list[str]:
    return [t for t in (_mail_text(m) for m in s.mail_to(MAIL[sub])) if alert_id in t]


def _stays(check: Callable[[], None], seconds: float) -> None:
    """``check`` holds over a window: polled to its end, failing at the first poll where it does not."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check()
        time.sleep(0.5)


def _moves(events: list[Event]) -> dict[str, AlertUpdated]:
    """The ``centinela.alert.updated`` facts that changed the advocate, by alert id."""
    return {
        e.payload.alert_id: e.payload
        for e in events
        if isinstance(e.payload, AlertUpdated) and "advocate" in e.payload.changed
    }


# -- the story ----------------------------------------------------------------------------------------------


def test_open_alerts_follow_the_case_to_its_new_advocate_with_their_history(stack: Stack) -> None:
    s = stack
    case_id = s.register_case(advocate=ADVOCATE_A)

    # before: a resolved service.overdue and two risk.revictimisation alerts (one acknowledged), all A's
    psychosocial = s.plan_service(
        case_id, "psychosocial", datetime.now(UTC) + timedelta(seconds=1), PROVIDER_ORG, sessions_planned=1
    )
    handled = s.wait_alert(case_id, OVERDUE, timeout=FIRST_ALERT, status="open")["id"]
    s.record_session(case_id, psychosocial, PROVIDER_ORG)
    s.wait_alert(case_id, OVERDUE, timeout=TIMEOUT, status="resolved", id=handled)

    _raise_flag(s, case_id, "threat_received")
    acked = s.wait_alert(case_id, RISK, timeout=TIMEOUT, episode=1)["id"]
    _raise_flag(s, case_id, "runaway_missing")
    still_open = s.wait_alert(case_id, RISK, timeout=TIMEOUT, episode=2)["id"]
    ack = httpx.post(
        f"{s.alerts.url}/v1/alerts/{acked}/ack",
        json={"comment": "calling the shelter"},
        headers=s.advocate_headers(ADVOCATE_A),
        timeout=10,
    )
    assert ack.status_code == 200, ack.text

    before = {handled: "resolved", acked: "acknowledged", still_open: "open"}
    assert _inbox(s, case_id, ADVOCATE_A) == before
    assert _inbox(s, case_id, ADVOCATE_B) == {}
    for alert_id in before:
        assert _detail_status(s, alert_id, ADVOCATE_B) == 404
    assert _supervisor_inbox(s, case_id) == before
    # A was e-mailed about each alert when it was raised
    wait_for(
        lambda: all(_mails_about(s, ADVOCATE_A, a) for a in before),
        timeout=TIMEOUT,
        what="A's e-mails about the alerts",
    )

    # the case is reassigned: the unresolved alerts move to B, with the same ids and statuses
    _reassign(s, case_id, ADVOCATE_B)
    moved = {acked: "acknowledged", still_open: "open"}

    def b_has_them() -> dict[str, str] | None:
        inbox = _inbox(s, case_id, ADVOCATE_B)
        return inbox if inbox == moved else None

    wait_for(b_has_them, timeout=TIMEOUT, interval=0.3, what="the unresolved alerts in B's inbox")
    # the resolved one stays with A, the record of what A handled; A no longer sees the moved ones
    assert _inbox(s, case_id, ADVOCATE_A) == {handled: "resolved"}
    for alert_id in moved:
        assert _detail_status(s, alert_id, ADVOCATE_A) == 404
        assert s.alert_detail(alert_id, sub=ADVOCATE_B)["advocate_id"] == ADVOCATE_B
    assert _detail_status(s, handled, ADVOCATE_A) == 200
    assert _detail_status(s, handled, ADVOCATE_B) == 404
    assert _supervisor_inbox(s, case_id) == before

    # history kept: B reads when each was raised, A's acknowledgement, and the move from A to B
    for alert_id in moved:
        history = s.alert_detail(alert_id, sub=ADVOCATE_B)["history"]
        actions = [h["action"] for h in history]
        assert actions[0] == "raised" and actions[-1] == "reassigned", actions
        [move] = [h for h in history if h["action"] == "reassigned"]
        assert (move["previous_advocate_id"], move["advocate_id"]) == (ADVOCATE_A, ADVOCATE_B), move
        assert "advocate" in move["changed"], move
    acks = [h for h in s.alert_detail(acked, sub=ADVOCATE_B)["history"] if h["action"] == "acknowledged"]
    assert [(h["by"], h["comment"]) for h in acks] == [(ADVOCATE_A, "calling the shelter")]
    assert "acknowledged" not in [h["action"] for h in s.alert_detail(still_open, sub=ADVOCATE_B)["history"]]
    # and on the alerts topic: one centinela.alert.updated per moved alert, naming both advocates
    facts = s.alert_facts(case_id, lambda es: set(_moves(es)) >= set(moved), timeout=TIMEOUT)
    updates = _moves(facts)
    assert set(updates) == set(moved), updates
    for u in updates.values():
        assert (u.previous_advocate_id, u.advocate_id, u.org_id) == (ADVOCATE_A, ADVOCATE_B, ORG), u
    # B is told by e-mail about each alert handed over
    wait_for(
        lambda: all(_mails_about(s, ADVOCATE_B, a) for a in moved),
        timeout=TIMEOUT,
        what="e-mails to B",
    )
    assert _mails_about(s, ADVOCATE_B, handled) == []

    # after: a new alert on the case goes to B only
    s.plan_service(case_id, "health", datetime.now(UTC) + timedelta(seconds=1), PROVIDER_ORG, sessions_planned=1)

    def new_alert() -> str | None:
        fresh = [a for a in s.alerts_of(case_id, sub=ADVOCATE_B) if a["rule"] == OVERDUE]
        return str(fresh[0]["id"]) if fresh else None

    fresh = wait_for(new_alert, timeout=SERVICE_AFTER + TIMEOUT, interval=0.3, what="the health alert in B's inbox")
    assert fresh not in before
    detail = s.alert_detail(fresh, sub=ADVOCATE_B)
    assert detail["advocate_id"] == ADVOCATE_B and detail["status"] == "open"
    assert [h["action"] for h in detail["history"]] == ["raised"]
    assert [x["service_kind"] for x in detail["evidence"]["services"]] == ["health"]
    assert _inbox(s, case_id, ADVOCATE_A) == {handled: "resolved"}
    assert _detail_status(s, fresh, ADVOCATE_A) == 404
    assert _supervisor_inbox(s, case_id) == {**before, fresh: "open"}
    wait_for(lambda: _mails_about(s, ADVOCATE_B, fresh), timeout=TIMEOUT, what="B's e-mail about the new alert")

    # and A is never told about it, nor about the alerts that moved, while B's mail keeps arriving
    def a_not_told() -> None:
        for alert_id in (fresh, *moved):
            raised_only = 1 if alert_id in moved else 0  # the e-mail of when it was raised for A
            assert len(_mails_about(s, ADVOCATE_A, alert_id)) == raised_only, alert_id
        assert fresh not in _inbox(s, case_id, ADVOCATE_A)

    _stays(a_not_told, 3)
