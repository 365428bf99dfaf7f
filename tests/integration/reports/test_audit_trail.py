"""Reports on the one audit trail: an export, a figures read and the refusals, made on the real reports
process, are read back by the admin with intake's ``GET /v1/audit?service=reports`` on the real intake
process (both on the session's broker and database server, no audit setting: intake's database by default).

Before: reports wrote its own ``audit`` collection in its own database, and only its own
``GET /v1/reports/audit`` showed it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from pymongo.database import Database

from services.reports.store.readmodel import FactsRepository
from shared.auth import mint
from shared.settings import CommonSettings
from tests.support import Proc
from tests.unit.reports.helpers import synthetic_population

pytestmark = pytest.mark.integration


def headers(role: str, sub: str, org: str | None = None, rid: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {mint(CommonSettings(), sub=sub, roles=[role], org=org)}"}
    return out | ({"X-Request-ID": rid} if rid else {})


def trail(intake: Proc, **params: str) -> list[dict[str, Any]]:
    """Every record of intake's GET /v1/audit with these filters, newest first (all pages)."""
    items: list[dict[str, Any]] = []
    query: dict[str, str] = {**params, "limit": "100"}
    while True:
        r = httpx.get(f"{intake.url}/v1/audit", params=query, headers=headers("admin", "it-auditor"), timeout=15)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        if not page["next_cursor"]:
            return items
        query["cursor"] = page["next_cursor"]


def test_exports_reads_and_refusals_are_in_intakes_audit_trail(
    intake_proc: Proc, reports_proc: Proc, reports_db: Database[Any]
) -> None:
    FactsRepository(reports_db).insert_many(synthetic_population(200, seed=11))
    run = uuid.uuid4().hex[:8]
    rid = {name: f"rq-{name}-{run}" for name in ("export", "refused", "figures", "other-org")}
    url = f"{reports_proc.url}/v1/reports"

    export = httpx.post(
        f"{url}/exports",
        json={"reason": "CTDC submission", "k": 5},
        headers=headers("admin", f"it-admin-{run}", rid=rid["export"]),
        timeout=60,
    )
    assert export.status_code == 200, export.text
    refused = httpx.post(
        f"{url}/exports",
        json={"reason": "CTDC submission"},
        headers=headers("ops_viewer", f"it-ops-{run}", rid=rid["refused"]),
        timeout=15,
    )
    assert refused.status_code == 403
    figures = httpx.get(
        f"{url}/justice-access.csv",
        headers=headers("supervisor", f"it-sup-{run}", "org-1", rid["figures"]),
        timeout=15,
    )
    assert figures.status_code == 200
    other = httpx.get(
        f"{url}/justice-access",
        params={"org": "org-2"},
        headers=headers("supervisor", f"it-sup-{run}", "org-1", rid["other-org"]),
        timeout=15,
    )
    assert other.status_code == 403

    # the writes happened before the answers: no waiting, one query on intake
    mine = {r["request_id"]: r for r in trail(intake_proc, service="reports") if r["request_id"] in rid.values()}
    assert set(mine) == set(rid.values())
    assert all(r["service"] == "reports" for r in mine.values())
    done = mine[rid["export"]]
    assert (done["action"], done["outcome"], done["actor"], done["role"], done["route"]) == (
        "reports.export.anonymised",
        "ok",
        f"it-admin-{run}",
        "admin",
        "POST /v1/reports/exports",
    )
    assert done["reason"] == "CTDC submission" and done["case_id"] is None
    assert done["details"]["input_rows"] == 200
    assert done["details"]["output_rows"] == int(export.headers["X-Export-Rows"])
    no = mine[rid["refused"]]
    assert (no["action"], no["outcome"], no["role"]) == ("reports.export.anonymised", "denied", "ops_viewer")
    assert no["details"] == {"why": "role", "allowed_roles": ["admin"]}
    read = mine[rid["figures"]]
    assert (read["action"], read["outcome"], read["org"], read["route"]) == (
        "reports.figures.csv",
        "ok",
        "org-1",
        "GET /v1/reports/justice-access.csv",
    )
    assert read["details"]["filters"]["org"] == "org-1"
    wrong_org = mine[rid["other-org"]]
    assert (wrong_org["outcome"], wrong_org["details"]) == ("denied", {"why": "other_org", "asked_org": "org-2"})

    # the service filter and the request-id filter narrow to reports' records; intake's own are not among them
    assert [r["action"] for r in trail(intake_proc, request_id=rid["export"])] == ["reports.export.anonymised"]
    assert not any(r["request_id"] in rid.values() for r in trail(intake_proc, service="intake"))
    # and reports keeps no trail of its own
    assert "audit" not in reports_db.list_collection_names()
