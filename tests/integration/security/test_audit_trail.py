"""One audit trail across services (issue 11 item 3).

Intake, legal and alerts run as real processes on the real broker and database, named the way test runs
name their databases (``<x>_<service>``) and without any audit setting: by default they all write to the
trail in intake's database, and the admin reads every service's records with one ``GET /v1/audit``.

Before: legal wrote its own database's trail, alerts wrote none, and intake had no
``GET /v1/cases/{case_id}/views``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.auth import mint
from shared.events import new_event
from shared.kafka import Producer
from shared.settings import CommonSettings
from shared.topics import ALERTS
from tests.integration.intake.conftest import case_body
from tests.support import Proc, alert_raised, free_port, isolated_env, uvicorn_args, wait_for

pytestmark = pytest.mark.integration

ORG, OTHER_ORG, ADVOCATE = "org-a", "org-b", "adv-a"
MISSING = "cs_" + "Z" * 22


@pytest.fixture(scope="module")
def trail_env(stack_env: dict[str, str], db_name: Callable[[str], str]) -> dict[str, str]:
    return {**isolated_env(stack_env), "CENTINELA_OUTBOX_POLL_SECONDS": "0.2", "_DB": db_name("trail")}


def start(name: str, module: str, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    port = free_port()
    own = {k: v for k, v in env.items() if k != "_DB"}
    own["CENTINELA_MONGO_DB"] = f"{env['_DB']}_{name}"
    proc = Proc(f"trail-{name}", uvicorn_args(module, port), own, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready()
    return proc


@pytest.fixture(scope="module")
def intake(trail_env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    return start("intake", "services.intake.main:app", trail_env, log_dir, procs)


@pytest.fixture(scope="module")
def legal(trail_env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    return start("legal", "services.legal.main:app", trail_env, log_dir, procs)


@pytest.fixture(scope="module")
def alerts(trail_env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    env = {**trail_env, "CENTINELA_POLICY_FILE": str(DEFAULT_POLICY_FILE), "CENTINELA_SMTP_HOST": "127.0.0.1"}
    return start("alerts", "services.alerts.main:app", env, log_dir, procs)


@pytest.fixture(scope="module")
def bus(trail_env: dict[str, str]) -> Iterator[Producer]:
    settings = CommonSettings(
        kafka_bootstrap=trail_env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=trail_env["CENTINELA_TOPIC_PREFIX"]
    )
    p = Producer(settings, client_id="audit-trail-tests")
    yield p
    p.close()


def client(proc: Proc, role: str, sub: str, org: str | None = ORG, source_system: str | None = None) -> httpx.Client:
    token = mint(CommonSettings(), sub=sub, roles=[role], org=org, source_system=source_system)
    return httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token}"}, timeout=15)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def views(c: httpx.Client, case_id: str, **params: Any) -> httpx.Response:
    return c.get(f"/v1/cases/{case_id}/views", params=params)


def test_case_views_show_who_read_or_changed_the_case(intake: Proc) -> None:
    officer_sub, supervisor_sub = unique("officer"), unique("sup")
    officer = client(intake, "intake_officer", officer_sub)
    created = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex, advocate_id=ADVOCATE))
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    assert officer.get(f"/v1/cases/{case_id}").status_code == 200
    outsider = client(intake, "intake_officer", unique("outsider"), org=OTHER_ORG)
    assert outsider.get(f"/v1/cases/{case_id}").status_code == 404

    supervisor = client(intake, "supervisor", supervisor_sub)
    first = views(supervisor, case_id, limit=2)
    assert first.status_code == 200, first.text
    page = first.json()
    assert set(page) == {"items", "limit", "next_cursor", "total"}
    assert page["limit"] == 2 and page["total"] == 3 and page["next_cursor"]
    assert [set(item) for item in page["items"]] == [{"at", "actor", "role", "action", "service", "outcome"}] * 2
    second = views(supervisor, case_id, limit=2, cursor=page["next_cursor"]).json()
    assert second["next_cursor"] is None and second["total"] is None
    seen = [(i["actor"], i["action"], i["service"], i["outcome"]) for i in page["items"] + second["items"]]
    # newest first; the refused read of another organisation's officer is there too
    assert seen[0][0] != officer_sub or seen[0][1] != "case.create"
    assert sorted(seen) == sorted(
        [
            (officer_sub, "case.create", "intake", "ok"),
            (officer_sub, "case.read", "intake", "ok"),
            (seen[0][0], "case.read", "intake", "denied"),
        ]
    )
    # the assigned advocate and an admin see it; the call itself is now in the list
    advocate = client(intake, "legal_advocate", ADVOCATE)
    mine = views(advocate, case_id).json()
    assert mine["items"][0]["actor"] == supervisor_sub and mine["items"][0]["action"] == "case.views"
    assert views(client(intake, "admin", unique("admin"), org=None), case_id).status_code == 200


def test_case_views_out_of_scope_is_404_and_audited(intake: Proc) -> None:
    officer = client(intake, "intake_officer", unique("officer"))
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex, advocate_id=ADVOCATE)).json()["case_id"]
    other_sup, other_adv, reader = unique("sup-b"), unique("adv-b"), unique("officer-a")
    assert views(client(intake, "supervisor", other_sup, org=OTHER_ORG), case_id).status_code == 404
    assert views(client(intake, "legal_advocate", other_adv), case_id).status_code == 404
    assert views(client(intake, "supervisor", other_sup, org=OTHER_ORG), MISSING).status_code == 404
    # an officer of the owning organisation is not among those who see the trail: 403 by role
    assert views(client(intake, "intake_officer", reader), case_id).status_code == 403

    admin = client(intake, "admin", unique("admin"), org=None)

    def trail(actor: str) -> list[dict[str, Any]]:
        return list(admin.get("/v1/audit", params={"actor": actor}).json()["items"])

    refused = {(r["action"], r["case_id"], r["outcome"], r["details"].get("why")) for r in trail(other_sup)}
    assert refused == {
        ("case.views", case_id, "denied", "out_of_scope"),
        ("case.views", MISSING, "not_found", "case_not_found"),
    }
    assert {(r["action"], r["outcome"]) for r in trail(other_adv)} == {("case.views", "denied")}
    [by_role] = trail(reader)
    assert (by_role["action"], by_role["outcome"], by_role["details"]["why"]) == ("case.views", "denied", "role")
    assert by_role["service"] == "intake" and by_role["route"] == "GET /v1/cases/{case_id}/views"


SECRET_WORDS = "Rosa Quispe Huaman DNI 70112233"


def test_one_query_returns_every_services_records(intake: Proc, legal: Proc, alerts: Proc, bus: Producer) -> None:
    advocate_sub, outsider_sub = unique("adv"), unique("adv-x")
    officer = client(intake, "intake_officer", unique("officer"))
    created = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex, advocate_id=advocate_sub))
    assert created.status_code == 201, created.text
    case_id = created.json()["case_id"]
    advocate, outsider = client(legal, "legal_advocate", advocate_sub), client(legal, "legal_advocate", outsider_sub)

    # legal: the advocate reads the timeline once legal has the case (from case-events); an outsider gets 404
    wait_for(
        lambda: advocate.get(f"/v1/cases/{case_id}/legal-timeline").status_code == 200 or None,
        timeout=60,
        what="legal learns the case",
    )
    assert outsider.get(f"/v1/cases/{case_id}/legal-timeline").status_code == 404

    # alerts: an alert on the case; its advocate reads and acknowledges it, others are refused
    raised = alert_raised(org=ORG, advocate=advocate_sub, case_id=case_id)
    bus.publish(ALERTS, new_event(raised)).get(timeout=30)
    mine = client(alerts, "legal_advocate", advocate_sub)
    wait_for(lambda: mine.get(f"/v1/alerts/{raised.alert_id}").status_code == 200 or None, timeout=60, what="alert")
    rid = unique("rid")
    ack = mine.post(f"/v1/alerts/{raised.alert_id}/ack", json={"comment": SECRET_WORDS}, headers={"X-Request-ID": rid})
    assert ack.status_code == 200, ack.text
    assert mine.get("/v1/alerts", params={"case_id": case_id}).status_code == 200
    assert client(alerts, "legal_advocate", outsider_sub).get(f"/v1/alerts/{raised.alert_id}").status_code == 404
    assert client(alerts, "legal_advocate", outsider_sub).get("/v1/alerts/al-missing-000").status_code == 404
    admin_sub = unique("admin")
    assert client(alerts, "admin", admin_sub, org=None).get("/v1/alerts").status_code == 403

    admin = client(intake, "admin", unique("admin-reader"), org=None)

    def trail(**params: str) -> list[dict[str, Any]]:
        r = admin.get("/v1/audit", params={"limit": "200", **params})
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    # one query: the case's records of all three services
    expected = {
        ("intake", "case.create", "ok"),
        ("legal", "legal.timeline.read", "ok"),
        ("legal", "legal.timeline.read", "denied"),
        ("alerts", "alerts.alert.read", "ok"),
        ("alerts", "alerts.alert.acknowledge", "ok"),
        ("alerts", "alerts.alert.list", "ok"),
        ("alerts", "alerts.alert.read", "denied"),
    }

    def complete() -> list[dict[str, Any]] | None:
        found = trail(case_id=case_id)
        return found if expected <= {(r["service"], r["action"], r["outcome"]) for r in found} else None

    records = wait_for(complete, timeout=15, what="every service's records")
    for record in records:
        assert set(record) >= {"at", "service", "actor", "role", "org", "case_id", "request_id", "route", "outcome"}
        assert record["request_id"] and record["route"], record
    assert SECRET_WORDS.split()[0] not in json.dumps(records)
    # filters: by service, by request id, by actor
    assert {r["service"] for r in trail(case_id=case_id, service="alerts")} == {"alerts"}
    only_intake = admin.get("/v1/audit", params={"case_id": case_id, "service": "intake", "limit": "200"}).json()
    assert {r["service"] for r in only_intake["items"]} == {"intake"}
    assert only_intake["total"] == len(only_intake["items"])  # the count agrees with the page
    [acked] = trail(request_id=rid)
    assert (acked["service"], acked["action"], acked["actor"], acked["case_id"]) == (
        "alerts",
        "alerts.alert.acknowledge",
        advocate_sub,
        case_id,
    )
    assert acked["route"] == "POST /v1/alerts/{alert_id}/ack" and acked["details"]["alert_id"] == raised.alert_id
    refused = {(r["action"], r["outcome"], r["details"].get("why")) for r in trail(actor=outsider_sub)}
    assert refused == {
        ("legal.timeline.read", "denied", "out_of_scope"),
        ("alerts.alert.read", "denied", "out_of_scope"),
        ("alerts.alert.read", "not_found", "not_found"),
    }
    [by_role] = trail(actor=admin_sub)
    assert (by_role["service"], by_role["action"], by_role["outcome"]) == ("alerts", "alerts.alert.list", "denied")

    # and the case's advocate sees who read or changed the case, in every service
    seen = views(client(intake, "legal_advocate", advocate_sub), case_id, limit=200).json()["items"]
    assert {"intake", "legal", "alerts"} <= {v["service"] for v in seen}
