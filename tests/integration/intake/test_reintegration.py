"""Reintegration outcomes through the real API and topic (issue 13 item 13)."""

from __future__ import annotations

import uuid

from tests.integration.intake.conftest import ADVOCATE, OTHER_ORG, PROVIDER_ORG, AsRole, EventsOf, case_body


def test_outcomes_are_recorded_validated_listed_and_published(as_role: AsRole, events_of: EventsOf) -> None:
    officer = as_role("intake_officer")
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    posted = [
        {"domain": "education", "status": "enrolled", "effective_date": "2024-03-04"},
        {"domain": "placement", "status": "family", "effective_date": "2024-02-20"},
        {"domain": "documentation", "status": "dni_obtained", "effective_date": "2024-04-10"},
        {"domain": "employment", "status": "in_training", "effective_date": "2024-05-02"},
        {"domain": "education", "status": "dropped_out", "effective_date": "2024-09-15"},
    ]
    for body in posted:
        r = officer.post(f"/v1/cases/{case_id}/reintegration", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["status"] == body["status"] and r.json()["outcome_id"].startswith("ro_")
    # a closed case still records outcomes (post-closure follow-up)
    etag = officer.get(f"/v1/cases/{case_id}").headers["etag"]
    assert (
        officer.patch(f"/v1/cases/{case_id}", json={"status": "Closed"}, headers={"If-Match": etag}).status_code == 200
    )
    r = as_role("supervisor").post(
        f"/v1/cases/{case_id}/reintegration",
        json={"domain": "placement", "status": "independent", "effective_date": "2025-01-10"},
    )
    assert r.status_code == 201

    for bad, field in (
        ({"domain": "placement", "status": "enrolled", "effective_date": "2024-01-01"}, "body"),
        ({"domain": "housing", "status": "family", "effective_date": "2024-01-01"}, "body.domain"),
        ({"domain": "placement", "status": "family", "effective_date": "2999-01-01"}, "body.effective_date"),
        ({"domain": "placement", "status": "family"}, "body.effective_date"),
    ):
        r = officer.post(f"/v1/cases/{case_id}/reintegration", json=bad)
        assert r.status_code == 422 and r.json()["detail"][0]["field"] == field, r.text

    listed = as_role("legal_advocate", sub=ADVOCATE, org="defensoria").get(f"/v1/cases/{case_id}/reintegration")
    assert listed.status_code == 200
    data = listed.json()
    assert [i["effective_date"] for i in data["items"]] == sorted(i["effective_date"] for i in data["items"])
    assert {k: v["status"] for k, v in data["current"].items()} == {
        "education": "dropped_out",
        "placement": "independent",
        "documentation": "dni_obtained",
        "employment": "in_training",
    }
    assert len(officer.get(f"/v1/cases/{case_id}").json()["reintegration"]) == 6
    # need-to-know: providers and other organisations do not read or write them
    provider = as_role("service_provider", org=PROVIDER_ORG)
    assert provider.post(f"/v1/cases/{case_id}/reintegration", json=posted[0]).status_code == 403
    assert provider.get(f"/v1/cases/{case_id}/reintegration").status_code == 403
    stranger = as_role("supervisor", org=OTHER_ORG)
    assert stranger.get(f"/v1/cases/{case_id}/reintegration").status_code == 404
    assert stranger.post(f"/v1/cases/{case_id}/reintegration", json=posted[0]).status_code == 404

    events = events_of({case_id}, lambda evs: sum(e["type"] == "centinela.reintegration.recorded" for e in evs) >= 6)
    recorded = [e["data"] for e in events if e["type"] == "centinela.reintegration.recorded"]
    assert [(d["domain"], d["status"]) for d in recorded] == [(b["domain"], b["status"]) for b in posted] + [
        ("placement", "independent")
    ]
    assert recorded[4]["previous_status"] == "enrolled" and recorded[5]["previous_status"] == "family"
    assert all(
        set(d)
        == {"case_id", "org_id", "outcome_id", "domain", "status", "effective_date", "previous_status", "recorded_at"}
        for d in recorded
    )
