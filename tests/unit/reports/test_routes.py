"""Routes: authentication, roles, the supervisor's own organisation, validation, CSV, export, and the record
of every call (refusals too) on the shared audit trail (``service: reports``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mongomock
import pytest
from fastapi.testclient import TestClient

from services.reports.domain.facts import CaseFacts
from services.reports.domain.figures import cell_id, cell_key, contribution, merge
from services.reports.main import build_app
from services.reports.service.reports import Reports
from services.reports.settings import ReportsSettings
from shared.audit import AuditTrail
from shared.auth import mint
from tests.unit.reports.helpers import synthetic_population

SETTINGS = ReportsSettings()


class FakeCells:
    def __init__(self, facts: list[CaseFacts]) -> None:
        self.cells: dict[str, dict[str, Any]] = {}
        for f in facts:
            key = cell_key(f)
            cell = self.cells.setdefault(
                cell_id(key), {**key, "exploitation_types": key["exploitation"].split("+"), "data": {}}
            )
            merge(cell["data"], contribution(f))

    def find(self, org: str | None, period_from: str | None, period_to: str | None) -> list[dict[str, Any]]:
        return [
            c
            for c in self.cells.values()
            if (not org or c["org"] == org)
            and (not period_from or c["period"] >= period_from)
            and (not period_to or c["period"] <= period_to)
        ]


class FakeFacts:
    def __init__(self, facts: list[CaseFacts]) -> None:
        self.facts = facts

    def all_facts(self) -> Iterator[CaseFacts]:
        return iter(self.facts)


@pytest.fixture(scope="module")
def population() -> list[CaseFacts]:
    return synthetic_population(2000, seed=4)


@pytest.fixture
def client(population: list[CaseFacts]) -> Iterator[TestClient]:
    app = build_app(SETTINGS, consume=False)
    trail = AuditTrail(mongomock.MongoClient(tz_aware=True)["trail"]["audit"], "reports")
    app.state.reports = Reports(FakeCells(population), FakeFacts(population), trail, 5)  # type: ignore[arg-type]
    yield TestClient(app)  # no lifespan: no database


def records(client: TestClient) -> list[dict[str, Any]]:
    """What the routes wrote to the trail, oldest first."""
    trail: AuditTrail = client.app.state.reports.audit  # type: ignore[attr-defined]
    return list(trail.coll.find({}, {"_id": 0}).sort("at", 1))


def auth(role: str, org: str | None = "org-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SETTINGS, sub='u-1', roles=[role], org=org)}"}


def test_every_route_needs_a_token_and_a_401_names_nobody(client: TestClient) -> None:
    assert client.get("/v1/reports/justice-access").status_code == 401
    assert client.get("/v1/reports/justice-access.csv").status_code == 401
    assert client.post("/v1/reports/exports", json={"reason": "ctdc"}).status_code == 401
    assert records(client) == []


def test_the_reports_own_audit_route_is_gone(client: TestClient) -> None:
    # the admin reads reports' records with GET /v1/audit?service=reports on intake
    assert client.get("/v1/reports/audit", headers=auth("admin", None)).status_code == 404


@pytest.mark.parametrize("role", ["intake_officer", "service_provider", "legal_advocate", "court_integrator"])
@pytest.mark.parametrize("path", ["/v1/reports/justice-access", "/v1/reports/justice-access.csv"])
def test_case_roles_get_no_figures_and_the_refusal_is_audited(client: TestClient, role: str, path: str) -> None:
    r = client.get(path, headers={**auth(role), "X-Request-ID": "rq-refused"})
    assert r.status_code == 403
    [rec] = records(client)
    assert (rec["service"], rec["actor"], rec["role"], rec["org"], rec["outcome"]) == (
        "reports",
        "u-1",
        role,
        "org-1",
        "denied",
    )
    assert rec["action"] == ("reports.figures.csv" if path.endswith(".csv") else "reports.figures.read")
    assert (rec["route"], rec["request_id"]) == (f"GET {path}", "rq-refused")
    assert rec["details"] == {"why": "role", "allowed_roles": ["supervisor", "admin", "ops_viewer"]}


def test_a_figures_read_is_audited_with_the_filters_codes(client: TestClient) -> None:
    params = {"region": "PE-LIM", "from": "2024-01", "group_by": "exploitation"}
    r = client.get("/v1/reports/justice-access", params=params, headers=auth("supervisor", "org-2"))
    assert r.status_code == 200
    rid = r.headers["x-request-id"]
    [rec] = records(client)
    assert rec["action"] == "reports.figures.read"
    assert (rec["outcome"], rec["role"], rec["org"], rec["request_id"]) == ("ok", "supervisor", "org-2", rid)
    assert rec["route"] == "GET /v1/reports/justice-access"
    assert rec["case_id"] is None and rec["reason"] is None
    assert rec["details"] == {
        "filters": {"org": "org-2", "region": "PE-LIM", "exploitation": None, "from": "2024-01", "to": None},
        "group_by": "exploitation",
        "groups": len(r.json()["groups"]),
    }


def test_bad_filters_and_unauthenticated_calls_are_not_audited(client: TestClient) -> None:
    r = client.get("/v1/reports/justice-access", params={"from": "2024-13"}, headers=auth("admin", None))
    assert r.status_code == 422
    assert records(client) == []


def test_ops_viewer_sees_every_organisation(client: TestClient, population: list[CaseFacts]) -> None:
    r = client.get("/v1/reports/justice-access", params={"group_by": "org"}, headers=auth("ops_viewer", None))
    assert r.status_code == 200, r.text
    groups = {g["group"]: g["figures"]["cases"] for g in r.json()["groups"]}
    assert groups == {o: sum(1 for f in population if f.org == o) for o in ("org-1", "org-2", "org-3")}


def test_supervisor_is_held_to_their_organisation(client: TestClient, population: list[CaseFacts]) -> None:
    r = client.get("/v1/reports/justice-access", headers=auth("supervisor", "org-2"))
    assert r.status_code == 200
    assert r.json()["filters"]["org"] == "org-2"
    assert r.json()["groups"][0]["figures"]["cases"] == sum(1 for f in population if f.org == "org-2")
    other = client.get("/v1/reports/justice-access", params={"org": "org-1"}, headers=auth("supervisor", "org-2"))
    assert other.status_code == 403
    read, refused = records(client)
    assert (read["outcome"], read["details"]["filters"]["org"]) == ("ok", "org-2")
    assert (refused["outcome"], refused["org"], refused["action"]) == ("denied", "org-2", "reports.figures.read")
    assert refused["details"] == {"why": "other_org", "asked_org": "org-1"}


def test_a_supervisor_token_without_an_org_is_refused_and_audited(client: TestClient) -> None:
    r = client.get("/v1/reports/justice-access.csv", headers=auth("supervisor", None))
    assert r.status_code == 403
    [rec] = records(client)
    assert (rec["outcome"], rec["action"], rec["details"]) == ("denied", "reports.figures.csv", {"why": "no_org"})


def test_filters_narrow_and_small_groups_are_suppressed(client: TestClient, population: list[CaseFacts]) -> None:
    params = {"exploitation": "ForcedMarriage", "from": "2024-01", "to": "2024-12", "group_by": "region"}
    r = client.get("/v1/reports/justice-access", params=params, headers=auth("admin", None))
    assert r.status_code == 200
    for group in r.json()["groups"]:
        expected = sum(
            1
            for f in population
            if "ForcedMarriage" in f.exploitation
            and f.region == group["group"]
            and (f.registered_at or "")[:4] == "2024"
        )
        shown = group["figures"]["cases"]
        assert shown == (expected if expected >= 5 else None)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "2024-13"}, "query.from"),
        ({"from": "2025-01", "to": "2024-01"}, "query.from"),
        ({"group_by": "case_id"}, "query.group_by"),
        ({"region": "Lima norte"}, "query.region"),
    ],
)
def test_bad_filters_name_the_field(client: TestClient, params: dict[str, str], field: str) -> None:
    r = client.get("/v1/reports/justice-access", params=params, headers=auth("admin", None))
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == field


def test_csv_has_one_row_per_group(client: TestClient) -> None:
    r = client.get("/v1/reports/justice-access.csv", params={"group_by": "period"}, headers=auth("ops_viewer", None))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("group_by,group,cases,prosecution.cases,")
    assert len(lines) - 1 == len({(f.registered_at or "")[:7] for f in synthetic_population(2000, seed=4)})
    [rec] = records(client)
    assert (rec["action"], rec["outcome"], rec["role"]) == ("reports.figures.csv", "ok", "ops_viewer")
    assert rec["route"] == "GET /v1/reports/justice-access.csv"
    assert rec["details"]["groups"] == len(lines) - 1


def test_export_is_admin_only_and_audited(client: TestClient) -> None:
    denied = client.post("/v1/reports/exports", json={"reason": "ctdc"}, headers=auth("ops_viewer", None))
    assert denied.status_code == 403
    refused = records(client)[-1]
    assert (refused["action"], refused["outcome"], refused["role"], refused["route"]) == (
        "reports.export.anonymised",
        "denied",
        "ops_viewer",
        "POST /v1/reports/exports",
    )
    assert refused["details"] == {"why": "role", "allowed_roles": ["admin"]}
    r = client.post(
        "/v1/reports/exports",
        json={"reason": "CTDC 2026", "k": 10},
        headers={**auth("admin", None), "X-Request-ID": "rq-x"},
    )
    assert r.status_code == 200
    assert r.headers["x-export-k"] == "10"
    assert r.text.splitlines()[0].startswith("yearOfRegistration,Datasource,gender,ageBroad")
    last = records(client)[-1]
    assert (last["service"], last["action"], last["outcome"], last["reason"], last["actor"]) == (
        "reports",
        "reports.export.anonymised",
        "ok",
        "CTDC 2026",
        "u-1",
    )
    assert (last["request_id"], last["route"], last["roles"]) == ("rq-x", "POST /v1/reports/exports", ["admin"])
    assert last["details"]["k"] == 10
    assert last["details"]["output_rows"] == int(r.headers["x-export-rows"])
    # the record holds the export's counts and levels, never a row of it
    assert set(last["details"]) == {
        "k",
        "input_rows",
        "output_rows",
        "suppressed_rows",
        "equivalence_classes",
        "generalisation_levels",
    }
    assert (
        client.post("/v1/reports/exports", json={"k": 1, "reason": "x y"}, headers=auth("admin", None)).status_code
        == 422
    )
    assert len(records(client)) == 2  # the 422 read nothing
