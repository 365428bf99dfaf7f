"""Prosecutor's references (issue 17 item 4): set by the advocate or the organisation's staff, resolved
from a carpeta fiscal to centinela's case id by the people of the case and the integrators it shares with."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from tests.integration.intake.conftest import ADVOCATE, OTHER_ORG, PROVIDER_ORG, AsRole, EventsOf, case_body
from tests.support import wait_for

OFFICE = "FPETP-LIMA-01"


def carpeta() -> str:
    return f"3306014501-2024-{secrets.randbelow(9_000_000) + 1}-0"


def test_advocate_sets_refs_and_integrators_resolve_them(as_role: AsRole, events_of: EventsOf) -> None:
    officer = as_role("intake_officer")
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    officer.post(
        f"/v1/cases/{case_id}/services",
        json={"service_kind": "health", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_week"},
    )
    advocate = as_role("legal_advocate", sub=ADVOCATE, org="defensoria")
    number = carpeta()
    spaced = number.replace("-", " - ", 1)  # typed with spaces: the same file
    r = advocate.put(
        f"/v1/cases/{case_id}/prosecutor-refs",
        json={
            "carpeta_fiscal": spaced,
            "office": OFFICE.lower(),
            "expediente": "00123-2024-0-1801-jr-pe-01",
            "shared_with_systems": ["sgf-lima"],
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["carpeta_fiscal"] == number and body["office"] == OFFICE
    assert body["expediente"] == "00123-2024-0-1801-JR-PE-01" and body["set_by"] == ADVOCATE
    version = r.headers["etag"]
    # the same references again change nothing
    again = advocate.put(
        f"/v1/cases/{case_id}/prosecutor-refs",
        json={
            "carpeta_fiscal": number,
            "office": OFFICE,
            "expediente": body["expediente"],
            "shared_with_systems": ["sgf-lima"],
        },
    )
    assert again.status_code == 200 and again.headers["etag"] == version

    assert officer.get(f"/v1/cases/{case_id}").json()["prosecutor_refs"]["carpeta_fiscal"] == number
    provider_view = as_role("service_provider", org=PROVIDER_ORG).get(f"/v1/cases/{case_id}").json()
    assert provider_view["view"] == "provider" and provider_view["prosecutor_refs"] is None

    query = {"carpeta_fiscal": number, "office": OFFICE}
    integrator = as_role("court_integrator", sub="sgf-bot", org=None, source_system="sgf-lima")
    for who in (integrator, officer, advocate, as_role("supervisor")):
        r = who.get("/v1/case-refs", params=query)
        assert r.status_code == 200, r.text
        assert r.json() == {"case_id": case_id}  # only the id
    spaced_query = {"carpeta_fiscal": spaced, "office": OFFICE.lower()}
    assert integrator.get("/v1/case-refs", params=spaced_query).json() == {"case_id": case_id}

    # not shared, not yours, unknown: the same 404
    outsiders = [
        as_role("court_integrator", sub="other-bot", org=None, source_system="sij-cusco"),
        as_role("court_integrator", sub="no-system", org=None),
        as_role("intake_officer", org=OTHER_ORG),
        as_role("legal_advocate", sub="adv-someone-else"),
    ]
    for who in outsiders:
        r = who.get("/v1/case-refs", params=query)
        assert r.status_code == 404 and case_id not in r.text
    unknown = integrator.get("/v1/case-refs", params={"carpeta_fiscal": carpeta(), "office": OFFICE})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == outsiders[0].get("/v1/case-refs", params=query).json()["detail"]
    for role in ("service_provider", "ops_viewer", "admin"):
        assert as_role(role, org=None).get("/v1/case-refs", params=query).status_code == 403

    # bad formats name the field, never echo the value
    bad = integrator.get("/v1/case-refs", params={"carpeta_fiscal": "CF-Zq123", "office": OFFICE})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "query.carpeta_fiscal"
    assert "Zq123" not in bad.text
    bad = advocate.put(
        f"/v1/cases/{case_id}/prosecutor-refs",
        json={"carpeta_fiscal": number, "office": OFFICE, "expediente": "123-2024"},
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.expediente"
    bad = advocate.put(
        f"/v1/cases/{case_id}/prosecutor-refs", json={"carpeta_fiscal": "3306014501-1899-1-0", "office": OFFICE}
    )
    assert bad.status_code == 422 and "year" in bad.text

    events = events_of({case_id}, lambda evs: any(e["type"] == "centinela.case.prosecutor_refs_set" for e in evs))
    refs_events = [e for e in events if e["type"] == "centinela.case.prosecutor_refs_set"]
    assert len(refs_events) == 1  # the repeat emitted nothing
    data: dict[str, Any] = refs_events[0]["data"]
    assert data["carpeta_fiscal"] == number and data["office"] == OFFICE and data["set_by_role"] == "legal_advocate"
    assert data["shared_with_systems"] == ["sgf-lima"] and data["previous_carpeta_fiscal"] is None
    assert "Given" not in str(data) and "Family" not in str(data)

    admin = as_role("admin", sub="admin-refs", org=None)

    def trail() -> list[dict[str, Any]] | None:
        items = admin.get("/v1/audit", params={"case_id": case_id, "action": "case_ref.resolve"}).json()["items"]
        return items if len(items) >= 7 else None

    outcomes = sorted(i["outcome"] for i in wait_for(trail, timeout=10, what="resolve audit records"))
    assert outcomes.count("ok") == 5 and outcomes.count("denied") >= 2
    missing = admin.get("/v1/audit", params={"actor": "sgf-bot", "outcome": "not_found"}).json()["items"]
    assert any(i["action"] == "case_ref.resolve" for i in missing)


def test_one_case_per_carpeta_and_office(as_role: AsRole) -> None:
    officer = as_role("intake_officer")
    first = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    second = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    number = carpeta()
    assert (
        officer.put(f"/v1/cases/{first}/prosecutor-refs", json={"carpeta_fiscal": number, "office": OFFICE}).status_code
        == 200
    )
    taken = officer.put(f"/v1/cases/{second}/prosecutor-refs", json={"carpeta_fiscal": number, "office": OFFICE})
    assert taken.status_code == 409 and taken.json()["detail"][0]["field"] == "body.carpeta_fiscal"
    assert first not in taken.text
    # another office may use the same number
    other = officer.put(
        f"/v1/cases/{second}/prosecutor-refs", json={"carpeta_fiscal": number, "office": "FPETP-CUSCO-02"}
    )
    assert other.status_code == 200
    # a case that moves to another carpeta frees its old one
    moved = carpeta()
    r = officer.put(f"/v1/cases/{first}/prosecutor-refs", json={"carpeta_fiscal": moved, "office": OFFICE})
    assert r.status_code == 200
    assert (
        officer.put(
            f"/v1/cases/{second}/prosecutor-refs", json={"carpeta_fiscal": number, "office": OFFICE}
        ).status_code
        == 200
    )
    assert officer.get("/v1/case-refs", params={"carpeta_fiscal": number, "office": OFFICE}).json() == {
        "case_id": second
    }
    assert officer.get("/v1/case-refs", params={"carpeta_fiscal": moved, "office": OFFICE}).json() == {"case_id": first}


def test_who_may_set_refs(as_role: AsRole) -> None:
    officer = as_role("intake_officer")
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    body = {"carpeta_fiscal": carpeta(), "office": OFFICE}
    assert (
        as_role("legal_advocate", sub="adv-someone-else")
        .put(f"/v1/cases/{case_id}/prosecutor-refs", json=body)
        .status_code
        == 404
    )
    assert (
        as_role("supervisor", org=OTHER_ORG).put(f"/v1/cases/{case_id}/prosecutor-refs", json=body).status_code == 404
    )
    for role in ("service_provider", "court_integrator", "ops_viewer", "admin"):
        r = as_role(role, org=PROVIDER_ORG).put(f"/v1/cases/{case_id}/prosecutor-refs", json=body)
        assert r.status_code == 403, role
    etag = officer.get(f"/v1/cases/{case_id}").headers["etag"]
    assert (
        as_role("supervisor")
        .put(f"/v1/cases/{case_id}/prosecutor-refs", json=body, headers={"If-Match": etag})
        .status_code
        == 200
    )
    stale = officer.put(
        f"/v1/cases/{case_id}/prosecutor-refs",
        json={**body, "expediente": "00123-2024-0-1801-JR-PE-01"},
        headers={"If-Match": etag},
    )
    assert stale.status_code == 409
