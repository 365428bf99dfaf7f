"""Issue 10: boundary dates at the REST entrance are a 422 naming the field, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.legal.conftest import new_id, update

pytestmark = pytest.mark.integration

BOUNDARY = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z"]


@pytest.mark.parametrize("value", BOUNDARY)
def test_boundary_dates_are_422_naming_the_field(legal, tokens, value):
    case_id = new_id("c")
    h = tokens.integrator()
    with httpx.Client(base_url=legal.url, headers=h, timeout=30) as http:
        cases = {
            "occurred_at": update(case_id, "stage_changed", value, stage="complaint_filed"),
            "scheduled_for": update(
                case_id, "hearing_scheduled", "2025-01-02T10:00:00Z", hearing_id="h1", scheduled_for=value
            ),
            "new_date": update(
                case_id, "hearing_postponed", "2025-01-02T10:00:00Z", hearing_id="h1", reason="x", new_date=value
            ),
        }
        for field, body in cases.items():
            r = http.post("/v1/court-updates", json=body)
            assert r.status_code == 422, (field, r.text)
            detail = r.json()["detail"]
            assert detail[0]["field"] == f"body.{field}" and detail[0]["type"] == "date_out_of_range"
            assert value[:4] not in r.text
        # in a batch the bad item is rejected with its field and the good one around it is kept
        good = update(case_id, "stage_changed", "2025-01-02T10:00:00Z", stage="complaint_filed")
        r = http.post("/v1/court-updates", json={"updates": [cases["occurred_at"], good]})
        assert r.status_code == 200
        assert [x["status"] for x in r.json()["results"]] == ["rejected", "accepted"]
        assert r.json()["results"][0]["reason"].startswith("occurred_at: must be on or after 1900-01-01")

        sup = tokens("supervisor", sub="sup", org="org-bounds")
        r = http.get("/v1/legal/cases", params={"stalled_since": value}, headers=sup)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == "query.stalled_since"
        # the connection survived every refusal (a 500 used to drop it)
        assert http.get("/v1/legal/cases", headers=sup).status_code == 200
