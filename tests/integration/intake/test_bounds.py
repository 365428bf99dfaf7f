"""Dates at and beyond the documented range (shared.bounds) get 422 naming the field, never 500.

Before: ``followup_needed_by_date: "9999-12-31"`` and year-0001 dates were accepted (201), and the
extreme offsets (``0001-01-01T00:00:00+14:00``, ``9999-12-31T23:59:59-14:00``) answered 500.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from shared.bounds import years_after
from tests.integration.intake.conftest import PROVIDER_ORG, AsRole, case_body

LOW = "0001-01-01T00:00:00+14:00"
HIGH = "9999-12-31T23:59:59-14:00"

pytestmark = pytest.mark.integration


def refused(r: httpx.Response, field: str, value: str = "") -> None:
    assert r.status_code == 422, (field, r.status_code, r.text)
    assert field in [d["field"] for d in r.json()["detail"]], r.json()
    if value:
        assert value not in r.text  # the rule is stated, the value is not echoed


@pytest.fixture(scope="module")
def officer(as_role: AsRole) -> httpx.Client:
    return as_role("intake_officer")


@pytest.fixture(scope="module")
def case_and_service(officer: httpx.Client) -> tuple[str, str]:
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    r = officer.post(
        f"/v1/cases/{case_id}/services",
        json={"service_kind": "health", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_week"},
    )
    assert r.status_code == 201, r.text
    return case_id, r.json()["service_id"]


@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01", "1899-12-31"])
def test_followup_date_out_of_range(officer: httpx.Client, case_and_service: tuple[str, str], value: str) -> None:
    case_id, _ = case_and_service
    r = officer.post(f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": value})
    refused(r, "body.followup_needed_by_date", value)


def test_followup_date_at_the_edges(officer: httpx.Client, case_and_service: tuple[str, str]) -> None:
    case_id, _ = case_and_service
    today = datetime.now(UTC)
    last = years_after(today, 5).date()
    for ok in ("1900-01-01", last.isoformat()):
        r = officer.post(f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": ok})
        assert r.status_code == 201, (ok, r.text)
    beyond = (last + timedelta(days=2)).isoformat()
    refused(officer.post(f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": beyond}),
            "body.followup_needed_by_date")  # fmt: skip
    r = officer.post(
        f"/v1/cases/{case_id}/follow-ups",
        json={"followup_needed_by_date": "2025-01-01", "done_date": "0001-01-01", "outcome": "declined"},
    )
    refused(r, "body.done_date")


@pytest.mark.parametrize("value", [LOW, HIGH])
def test_audit_query_extremes(as_role: AsRole, value: str) -> None:
    admin = as_role("admin", org=None)
    refused(admin.get("/v1/audit", params={"since": value}), "query.since")
    refused(admin.get("/v1/audit", params={"until": value}), "query.until")
    # the connection survives the refusal (a 500 used to drop the keep-alive connection)
    assert admin.get("/v1/audit", params={"since": "2024-01-01T00:00:00"}).status_code == 200


@pytest.mark.parametrize("value", [LOW, HIGH, "1899-12-31T23:59:59Z"])
def test_instants_out_of_range(officer: httpx.Client, case_and_service: tuple[str, str], value: str) -> None:
    case_id, sid = case_and_service
    r = officer.post(f"/v1/cases/{case_id}/risk-flags", json={"kind": "other", "severity": "low", "observed_at": value})
    refused(r, "body.observed_at", value)
    r = officer.post(f"/v1/cases/{case_id}/services/{sid}/sessions", json={"outcome": "attended", "occurred_at": value})
    refused(r, "body.occurred_at", value)
    r = officer.post(
        f"/v1/cases/{case_id}/services",
        json={"service_kind": "health", "provider_org_id": PROVIDER_ORG, "first_due_at": value},
    )
    refused(r, "body.first_due_at", value)


def test_happened_means_not_in_the_future_beyond_clock_skew(
    officer: httpx.Client, case_and_service: tuple[str, str]
) -> None:
    case_id, sid = case_and_service
    now = datetime.now(UTC)
    soon = (now + timedelta(minutes=1)).isoformat()  # within the 5-minute clock-skew allowance
    late = (now + timedelta(minutes=30)).isoformat()
    flag = {"kind": "other", "severity": "low"}
    assert officer.post(f"/v1/cases/{case_id}/risk-flags", json={**flag, "observed_at": soon}).status_code == 201
    refused(officer.post(f"/v1/cases/{case_id}/risk-flags", json={**flag, "observed_at": late}), "body.observed_at")
    path = f"/v1/cases/{case_id}/services/{sid}/sessions"
    assert officer.post(path, json={"outcome": "attended", "occurred_at": soon}).status_code == 201
    refused(officer.post(path, json={"outcome": "attended", "occurred_at": late}), "body.occurred_at")
    # stored in UTC whatever offset came in
    r = officer.post(path, json={"outcome": "missed", "occurred_at": "2024-05-15T23:30:00-05:00"})
    assert r.status_code == 201 and r.json()["occurred_at"].startswith("2024-05-16T04:30:00")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rescue_date": "0001-01-01"}, "body.rescue_date"),
        ({"rescue_date": "1899-12-31"}, "body.rescue_date"),
        ({"identity": {"birth_date": "0001-01-01"}}, "body.identity.birth_date"),
        ({"identity": {"birth_date": "9999-12-31"}}, "body.identity.birth_date"),
    ],
)
def test_case_dates_out_of_range(officer: httpx.Client, body: dict[str, object], field: str) -> None:
    refused(officer.post("/v1/cases", json=body), field)


def test_case_dates_at_the_lower_edge(officer: httpx.Client) -> None:
    r = officer.post("/v1/cases", json={"rescue_date": "1900-01-01"})
    assert r.status_code == 201, r.text


def test_expected_version_is_bounded(officer: httpx.Client, case_and_service: tuple[str, str]) -> None:
    case_id, _ = case_and_service
    r = officer.patch(f"/v1/cases/{case_id}", json={"region": "Cusco", "expected_version": 10**30})
    refused(r, "body.expected_version")
