"""Reads refused by the role check (403) and reads of a missing id are in the audit log too.

Before: only scope refusals reached ``GET /v1/audit``; a 403 from the role guard and a 404 for an id
that does not exist left no trace (issue 11 item 3).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.intake.conftest import AsRole, case_body
from tests.support import wait_for

pytestmark = pytest.mark.integration
MISSING = "cs_" + "Z" * 22


def records(admin: Any, **params: str) -> list[dict[str, Any]]:
    return list(admin.get("/v1/audit", params={"limit": 200, **params}).json()["items"])


def test_role_refusals_are_audited(as_role: AsRole) -> None:
    officer = as_role("intake_officer")
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    ops = f"ops-{uuid.uuid4().hex[:8]}"
    court = f"court-{uuid.uuid4().hex[:8]}"
    provider = f"prov-{uuid.uuid4().hex[:8]}"
    assert as_role("ops_viewer", sub=ops, org=None).get(f"/v1/cases/{case_id}").status_code == 403
    assert as_role("ops_viewer", sub=ops, org=None).get("/v1/cases/not-a-case").status_code == 403
    assert as_role("court_integrator", sub=court, org=None).get(f"/v1/cases/{case_id}/risk-flags").status_code == 403
    assert as_role("service_provider", sub=provider, org="p-1").get("/v1/audit").status_code == 403
    admin = as_role("admin", org=None)

    ops_trail = wait_for(lambda: records(admin, actor=ops) or None, timeout=10, what="ops refusals")
    assert sorted((r["action"], r["case_id"] or "", r["outcome"], r["role"]) for r in ops_trail) == sorted(
        [("case.read", case_id, "denied", "ops_viewer"), ("case.read", "", "denied", "ops_viewer")]
    )
    assert all(r["details"]["why"] == "role" and "intake_officer" in r["details"]["allowed_roles"] for r in ops_trail)
    [flags] = records(admin, actor=court)
    assert (flags["action"], flags["case_id"], flags["outcome"], flags["role"]) == (
        "risk.list",
        case_id,
        "denied",
        "court_integrator",
    )
    [audit_read] = records(admin, actor=provider)
    assert (audit_read["action"], audit_read["outcome"], audit_read["org"]) == ("audit.read", "denied", "p-1")
    # the case's own trail shows who was turned away
    assert {(r["actor"], r["action"]) for r in records(admin, case_id=case_id, outcome="denied")} == {
        (ops, "case.read"),
        (court, "risk.list"),
    }


def test_reads_of_a_missing_id_are_audited(as_role: AsRole) -> None:
    sub = f"officer-{uuid.uuid4().hex[:8]}"
    officer = as_role("intake_officer", sub=sub)
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    assert officer.get(f"/v1/cases/{MISSING}").status_code == 404
    assert officer.get(f"/v1/cases/{MISSING}/services").status_code == 404
    assert officer.get(f"/v1/cases/{case_id}/services/sv_AAAAAAAAAAAAAAAA/sessions").status_code == 404
    assert officer.post(f"/v1/cases/{MISSING}/risk-flags", json={"kind": "other", "severity": "low"}).status_code == 404
    admin = as_role("admin", org=None)
    trail = wait_for(
        lambda: [r for r in records(admin, actor=sub) if r["outcome"] == "not_found"] or None,
        timeout=10,
        what="not-found records",
    )
    assert sorted((r["action"], r["case_id"], r["details"]["why"]) for r in trail) == sorted(
        [
            ("case.read", MISSING, "case_not_found"),
            ("service.list", MISSING, "case_not_found"),
            ("session.list", case_id, "service_not_found"),
            ("risk.flag", MISSING, "case_not_found"),
        ]
    )
    assert all(r["role"] == "intake_officer" and r["actor"] == sub for r in trail)
    by_outcome = records(admin, case_id=MISSING, outcome="not_found")
    assert {r["action"] for r in by_outcome} >= {"case.read", "service.list", "risk.flag"}
