"""Routes: authentication, roles, the supervisor's own organisation, validation, CSV, audited export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.reports.domain.facts import CaseFacts
from services.reports.domain.figures import cell_id, cell_key, contribution, merge
from services.reports.main import build_app
from services.reports.service.reports import Reports
from services.reports.settings import ReportsSettings
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


class FakeAudit:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def record(self, **kw: Any) -> None:
        self.records.append(kw)

    def latest(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.records[-limit:]


@pytest.fixture(scope="module")
def population() -> list[CaseFacts]:
    return synthetic_population(2000, seed=4)


@pytest.fixture
def client(population: list[CaseFacts]) -> Iterator[TestClient]:
    app = build_app(SETTINGS, consume=False)
    app.state.reports = Reports(FakeCells(population), FakeFacts(population), FakeAudit(), 5)  # type: ignore[arg-type]
    yield TestClient(app)  # no lifespan: no database


def auth(role: str, org: str | None = "org-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SETTINGS, sub='u-1', roles=[role], org=org)}"}


def test_every_route_needs_a_token(client: TestClient) -> None:
    assert client.get("/v1/reports/justice-access").status_code == 401
    assert client.get("/v1/reports/justice-access.csv").status_code == 401
    assert client.post("/v1/reports/exports", json={"reason": "ctdc"}).status_code == 401
    assert client.get("/v1/reports/audit").status_code == 401


@pytest.mark.parametrize("role", ["intake_officer", "service_provider", "legal_advocate", "court_integrator"])
def test_case_roles_get_no_figures(client: TestClient, role: str) -> None:
    assert client.get("/v1/reports/justice-access", headers=auth(role)).status_code == 403


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


def test_export_is_admin_only_and_audited(client: TestClient) -> None:
    audit: FakeAudit = client.app.state.reports.audit  # type: ignore[attr-defined]
    denied = client.post("/v1/reports/exports", json={"reason": "ctdc"}, headers=auth("ops_viewer", None))
    assert denied.status_code == 403
    assert audit.records[-1]["outcome"] == "denied"
    r = client.post("/v1/reports/exports", json={"reason": "CTDC 2026", "k": 10}, headers=auth("admin", None))
    assert r.status_code == 200
    assert r.headers["x-export-k"] == "10"
    assert r.text.splitlines()[0].startswith("yearOfRegistration,Datasource,gender,ageBroad")
    last = audit.records[-1]
    assert (last["action"], last["outcome"], last["reason"], last["actor"]) == (
        "export.anonymised",
        "ok",
        "CTDC 2026",
        "u-1",
    )
    assert last["details"]["k"] == 10
    assert (
        client.post("/v1/reports/exports", json={"k": 1, "reason": "x y"}, headers=auth("admin", None)).status_code
        == 422
    )
    assert client.get("/v1/reports/audit", headers=auth("admin", None)).status_code == 200
    assert client.get("/v1/reports/audit", headers=auth("supervisor")).status_code == 403
