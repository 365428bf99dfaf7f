"""The role matrix: every role on every route. Allowed roles succeed, the others get 403.

Callers are in scope (same organisation, assigned advocate, assigned provider); scoping to
other organisations (404) is checked separately.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.auth import ROLES
from tests.integration.intake.conftest import (
    ADVOCATE,
    ORG,
    OTHER_ORG,
    PROVIDER_ORG,
    AsRole,
    case_body,
    created,
    register,
)

PRINCIPALS: dict[str, dict[str, Any]] = {
    "intake_officer": {"sub": "officer-1", "org": ORG},
    "service_provider": {"sub": "provider-1", "org": PROVIDER_ORG},
    "legal_advocate": {"sub": ADVOCATE, "org": "defensoria"},
    "supervisor": {"sub": "sup-1", "org": ORG},
    "court_integrator": {"sub": "court-1", "org": None, "source_system": "sgf-matrix"},
    "ops_viewer": {"sub": "ops-1", "org": None},
    "admin": {"sub": "admin-1", "org": None},
}


class Fixture:
    """A case with one of everything, owned by ORG, advocate ADVOCATE, a service of PROVIDER_ORG."""

    def __init__(self, officer: httpx.Client, provider: httpx.Client) -> None:
        self.officer = officer
        self.case_id = register(officer)
        service = {
            "service_kind": "legal_counselling",
            "provider_org_id": PROVIDER_ORG,
            "service_response_timeframe": "3_days",
        }
        self.service_id = created(officer.post(f"/v1/cases/{self.case_id}/services", json=service), "service_id")
        self.refs = {
            "carpeta_fiscal": f"3306014501-2024-{uuid.uuid4().int % 9_000_000 + 1}-0",
            "office": "FPETP-LIMA-01",
            "shared_with_systems": ["sgf-matrix"],
        }
        r = officer.put(f"/v1/cases/{self.case_id}/prosecutor-refs", json=self.refs)
        assert r.status_code == 200, r.text
        # added by the provider: a non-legal document every reader of the case may open
        r = provider.post(
            f"/v1/cases/{self.case_id}/documents", files={"file": ("n.txt", b"note")}, data={"category": "note"}
        )
        assert r.status_code == 201, r.text
        self.doc_id = r.json()["doc_id"]

    def followup(self) -> str:
        r = self.officer.post(f"/v1/cases/{self.case_id}/follow-ups", json={"followup_needed_by_date": "2025-01-01"})
        return str(r.json()["followup_id"])

    def referral(self) -> str:
        r = self.officer.post(f"/v1/cases/{self.case_id}/referrals", json={"to_org_id": OTHER_ORG})
        return str(r.json()["referral_id"])

    def etag(self) -> str:
        return self.officer.get(f"/v1/cases/{self.case_id}").headers["etag"]


Call = Callable[[httpx.Client, Fixture], httpx.Response]

ROUTES: dict[str, tuple[set[str], Call]] = {
    "POST /v1/cases": ({"intake_officer"}, lambda c, f: c.post("/v1/cases", json=case_body(uuid.uuid4().hex))),
    "GET /v1/cases": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider"},
        lambda c, f: c.get("/v1/cases"),
    ),
    "GET /v1/cases/{id}": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider", "admin"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}"),
    ),
    "PATCH /v1/cases/{id}": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.patch(
            f"/v1/cases/{f.case_id}", json={"region": uuid.uuid4().hex[:8]}, headers={"If-Match": f.etag()}
        ),
    ),
    "POST /v1/cases/{id}/services": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.post(
            f"/v1/cases/{f.case_id}/services",
            json={"service_kind": "health", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_week"},
        ),
    ),
    "GET /v1/cases/{id}/services": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}/services"),
    ),
    "POST /v1/cases/{id}/services/{sid}/sessions": (
        {"intake_officer", "supervisor", "service_provider"},
        lambda c, f: c.post(
            f"/v1/cases/{f.case_id}/services/{f.service_id}/sessions",
            json={"outcome": "attended", "occurred_at": "2024-06-01T12:00:00Z"},
        ),
    ),
    "GET /v1/cases/{id}/services/{sid}/sessions": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}/services/{f.service_id}/sessions"),
    ),
    "POST /v1/cases/{id}/risk-flags": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider"},
        lambda c, f: c.post(
            f"/v1/cases/{f.case_id}/risk-flags", json={"kind": "threat_received", "severity": "medium"}
        ),
    ),
    "GET /v1/cases/{id}/risk-flags": (
        {"intake_officer", "supervisor", "legal_advocate"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}/risk-flags"),
    ),
    "POST /v1/cases/{id}/follow-ups": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.post(f"/v1/cases/{f.case_id}/follow-ups", json={"followup_needed_by_date": "2025-02-01"}),
    ),
    "PATCH /v1/cases/{id}/follow-ups/{fid}": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.patch(
            f"/v1/cases/{f.case_id}/follow-ups/{f.followup()}", json={"done_date": "2024-12-30", "outcome": "declined"}
        ),
    ),
    "POST /v1/cases/{id}/referrals": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.post(f"/v1/cases/{f.case_id}/referrals", json={"to_org_id": OTHER_ORG}),
    ),
    "PATCH /v1/cases/{id}/referrals/{rid}": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.patch(f"/v1/cases/{f.case_id}/referrals/{f.referral()}", json={"status": "revoked"}),
    ),
    "POST /v1/cases/{id}/reintegration": (
        {"intake_officer", "supervisor"},
        lambda c, f: c.post(
            f"/v1/cases/{f.case_id}/reintegration",
            json={"domain": "education", "status": "attending", "effective_date": "2024-06-01"},
        ),
    ),
    "GET /v1/cases/{id}/reintegration": (
        {"intake_officer", "supervisor", "legal_advocate"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}/reintegration"),
    ),
    "PUT /v1/cases/{id}/prosecutor-refs": (
        {"intake_officer", "supervisor", "legal_advocate"},
        lambda c, f: c.put(f"/v1/cases/{f.case_id}/prosecutor-refs", json=f.refs),
    ),
    "GET /v1/case-refs": (
        {"court_integrator", "intake_officer", "supervisor", "legal_advocate"},
        lambda c, f: c.get(
            "/v1/case-refs", params={"carpeta_fiscal": f.refs["carpeta_fiscal"], "office": f.refs["office"]}
        ),
    ),
    "POST /v1/cases/{id}/documents": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider"},
        lambda c, f: c.post(
            f"/v1/cases/{f.case_id}/documents", files={"file": ("n.txt", b"a note")}, data={"category": "note"}
        ),
    ),
    "GET /v1/cases/{id}/documents": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider", "admin"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}/documents"),
    ),
    "GET /v1/cases/{id}/documents/{doc_id}": (
        {"intake_officer", "supervisor", "legal_advocate", "service_provider", "admin"},
        lambda c, f: c.get(f"/v1/cases/{f.case_id}/documents/{f.doc_id}"),
    ),
    "GET /v1/audit": ({"admin"}, lambda c, f: c.get("/v1/audit")),
    "GET /v1/stats": ({"ops_viewer", "supervisor", "admin"}, lambda c, f: c.get("/v1/stats")),
}


@pytest.fixture(scope="module")
def fixture(as_role: AsRole) -> Fixture:
    return Fixture(
        as_role("intake_officer", **PRINCIPALS["intake_officer"]),
        as_role("service_provider", **PRINCIPALS["service_provider"]),
    )


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", list(ROUTES))
def test_role_matrix(route: str, role: str, as_role: AsRole, fixture: Fixture) -> None:
    allowed, call = ROUTES[route]
    # Admins reach a case only by break-glass, which always states its reason.
    client = as_role(role, **PRINCIPALS[role], **{"X-Access-Reason": "role matrix test run"})
    r = call(client, fixture)
    if role in allowed:
        assert 200 <= r.status_code < 300, f"{role} on {route}: {r.status_code} {r.text}"
    else:
        assert r.status_code == 403, f"{role} on {route}: expected 403, got {r.status_code} {r.text}"


def test_other_organisations_get_404_not_403(as_role: AsRole, fixture: Fixture) -> None:
    outsiders = [
        as_role("intake_officer", org=OTHER_ORG),
        as_role("supervisor", org=OTHER_ORG),
        as_role("legal_advocate", sub="adv-someone-else"),
        as_role("service_provider", org="prov-other"),
    ]
    for client in outsiders:
        assert client.get(f"/v1/cases/{fixture.case_id}").status_code == 404
        assert (
            client.post(
                f"/v1/cases/{fixture.case_id}/risk-flags", json={"kind": "other", "severity": "low"}
            ).status_code
            == 404
        )
        listed = client.get("/v1/cases").json()["items"]
        assert fixture.case_id not in {c["case_id"] for c in listed}
    # a provider of this case sees its own service only, and no legal or identity data
    provider = as_role("service_provider", org=PROVIDER_ORG)
    view = provider.get(f"/v1/cases/{fixture.case_id}").json()
    assert view["view"] == "provider" and view["advocate_id"] is None and view["identity"] is None
    assert view["referrals"] is None and view["exploitation_types"] == []
    assert provider.get(f"/v1/cases/{fixture.case_id}", params={"include_identity": "true"}).status_code == 403
    other_service = fixture.officer.post(
        f"/v1/cases/{fixture.case_id}/services",
        json={"service_kind": "education", "provider_org_id": "prov-other", "service_response_timeframe": "1_day"},
    ).json()["service_id"]
    assert other_service not in {s["service_id"] for s in provider.get(f"/v1/cases/{fixture.case_id}/services").json()}
    r = provider.post(
        f"/v1/cases/{fixture.case_id}/services/{other_service}/sessions",
        json={"outcome": "attended", "occurred_at": "2024-06-01T12:00:00Z"},
    )
    assert r.status_code == 404
