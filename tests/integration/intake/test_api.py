"""Every intake endpoint through a real uvicorn process; events checked on the real topic."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.integration.intake.conftest import (
    ADVOCATE,
    ORG,
    OTHER_ORG,
    PROVIDER_ORG,
    AsRole,
    EventsOf,
    case_body,
    identity,
)
from tests.support import Proc


def register(c: httpx.Client, tag: str | None = None, **extra: Any) -> str:
    r = c.post("/v1/cases", json=case_body(tag or uuid.uuid4().hex, **extra))
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def test_full_case_flow_emits_every_fact_in_order(as_role: AsRole, events_of: EventsOf) -> None:
    officer = as_role("intake_officer")
    supervisor = as_role("supervisor")
    provider = as_role("service_provider", org=PROVIDER_ORG)
    r = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex))
    assert r.status_code == 201 and r.headers["etag"] == '"1"'
    case_id = r.json()["case_id"]
    assert case_id.startswith("cs_") and r.headers["location"] == f"/v1/cases/{case_id}"

    r = officer.post(
        f"/v1/cases/{case_id}/services",
        json={
            "service_kind": "psychosocial",
            "provider_org_id": PROVIDER_ORG,
            "service_response_timeframe": "1_week",
            "interval_days": 14,
            "sessions_planned": 6,
        },
    )
    assert r.status_code == 201, r.text
    service = r.json()
    assert service["spl_Type"] == "SocialCare" and service["service_response_timeframe"] == "1_week"
    sid = service["service_id"]

    r = provider.post(
        f"/v1/cases/{case_id}/services/{sid}/sessions",
        json={"outcome": "attended", "occurred_at": "2024-05-01T10:00:00Z"},
    )
    assert r.status_code == 201, r.text
    r = provider.post(
        f"/v1/cases/{case_id}/services/{sid}/sessions",
        json={"outcome": "missed", "occurred_at": "2024-05-15T10:00:00-05:00", "missed_reason": "child_absent"},
    )
    assert r.status_code == 201, r.text
    sessions = provider.get(f"/v1/cases/{case_id}/services/{sid}/sessions").json()
    assert [s["outcome"] for s in sessions] == ["attended", "missed"]
    assert [s["service_id"] for s in provider.get(f"/v1/cases/{case_id}/services").json()] == [sid]

    r = officer.post(f"/v1/cases/{case_id}/risk-flags", json={"kind": "contact_with_trafficker", "severity": "high"})
    assert r.status_code == 201 and r.json()["raised_by_role"] == "intake_officer"
    assert [f["kind"] for f in officer.get(f"/v1/cases/{case_id}/risk-flags").json()] == ["contact_with_trafficker"]

    r = officer.post(f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": "2025-06-01"})
    assert r.status_code == 201
    fid = r.json()["followup_id"]
    r = officer.patch(
        f"/v1/cases/{case_id}/follow-ups/{fid}", json={"done_date": "2025-05-30", "outcome": "contacted_stable"}
    )
    assert r.status_code == 200 and r.json()["done_date"] == "2025-05-30"
    r = officer.patch(f"/v1/cases/{case_id}/follow-ups/{fid}", json={"done_date": "2025-05-30", "outcome": "other"})
    assert r.status_code == 409  # already recorded

    r = officer.post(f"/v1/cases/{case_id}/referrals", json={"to_org_id": OTHER_ORG, "service_kind": "education"})
    assert r.status_code == 201 and r.json()["status"] == "in_progress"
    rid = r.json()["referral_id"]
    receiver = as_role("intake_officer", org=OTHER_ORG)
    assert receiver.get(f"/v1/cases/{case_id}").status_code == 404  # a referral does not open the case file
    assert officer.patch(f"/v1/cases/{case_id}/referrals/{rid}", json={"status": "accepted"}).status_code == 409
    r = receiver.patch(f"/v1/cases/{case_id}/referrals/{rid}", json={"status": "accepted"})
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    r = receiver.patch(f"/v1/cases/{case_id}/referrals/{rid}", json={"status": "done"})
    assert r.status_code == 200
    assert receiver.patch(f"/v1/cases/{case_id}/referrals/{rid}", json={"status": "revoked"}).status_code == 409

    etag = supervisor.get(f"/v1/cases/{case_id}").headers["etag"]
    r = supervisor.patch(
        f"/v1/cases/{case_id}", json={"advocate_id": "adv-new", "region": "Cusco"}, headers={"If-Match": etag}
    )
    assert r.status_code == 200, r.text
    r = supervisor.patch(f"/v1/cases/{case_id}", json={"status": "Closed"}, headers={"If-Match": r.headers["etag"]})
    assert r.status_code == 200 and r.json()["status"] == "Closed"
    assert (
        officer.post(
            f"/v1/cases/{case_id}/services",
            json={"service_kind": "health", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_day"},
        ).status_code
        == 409
    )

    expected = [
        "centinela.case.registered",
        "centinela.service.planned",
        "centinela.session.recorded",
        "centinela.session.recorded",
        "centinela.risk.flagged",
        "centinela.followup.planned",
        "centinela.followup.recorded",
        "centinela.referral.status_changed",
        "centinela.referral.status_changed",
        "centinela.referral.status_changed",
        "centinela.case.updated",
        "centinela.case.advocate_assigned",
        "centinela.case.status_changed",
        "centinela.case.closed",
    ]
    events = events_of({case_id}, lambda evs: len(evs) >= len(expected))
    assert [e["type"] for e in events] == expected  # one partition per case: order kept
    by_type = {e["type"]: e["data"] for e in events}
    planned = by_type["centinela.service.planned"]
    assert planned["service_kind"] == "psychosocial" and planned["interval_days"] == 14
    assert planned["sessions_planned"] == 6 and planned["first_due_at"] == service["first_due_at"].replace(
        "+00:00", "Z"
    )
    assert {e["data"]["outcome"] for e in events if e["type"] == "centinela.session.recorded"} == {"attended", "missed"}
    assert all(
        e["data"].get("service_kind") == "psychosocial" for e in events if e["type"].startswith("centinela.session")
    )
    assert by_type["centinela.case.advocate_assigned"] == {
        **by_type["centinela.case.advocate_assigned"],
        "advocate_id": "adv-new",
        "previous_advocate_id": ADVOCATE,
        "org_id": ORG,
    }
    assert by_type["centinela.case.updated"]["changed_fields"] == ["region"]
    assert by_type["centinela.case.registered"]["org_id"] == ORG
    assert len({e["id"] for e in events}) == len(events)


def test_reregistration_links_cases_and_emits_the_fact(as_role: AsRole, events_of: EventsOf) -> None:
    officer = as_role("intake_officer")
    tag = uuid.uuid4().hex
    first = register(officer, tag)
    # Same child, written differently: accents, case, spacing and document separators do not matter.
    again = case_body(tag)
    again["identity"] = {
        **identity(tag),
        "given_names": f"  gíVEN   {tag.upper()} ",
        "documents": [{"type": "DNI", "number": f"d-{tag[:30]}"}],
    }
    r = officer.post("/v1/cases", json=again)
    assert r.status_code == 201
    second = r.json()["case_id"]
    assert r.json()["person_ref_known"] is True and r.json()["linked_case_ids"] == [first]
    assert officer.get(f"/v1/cases/{first}").json()["linked_case_ids"] == [second]
    other = register(officer)  # a different child is not linked
    events = events_of({first, second, other}, lambda evs: len(evs) >= 4)
    rereg = [e for e in events if e["type"] == "centinela.person.reregistered"]
    assert len(rereg) == 1 and rereg[0]["subject"] == second
    assert rereg[0]["data"]["previous_case_ids"] == [first]
    refs = {e["subject"]: e["data"]["person_ref"] for e in events if e["type"] == "centinela.case.registered"}
    assert refs[first] == refs[second] == rereg[0]["data"]["person_ref"] and refs[other] != refs[first]


def test_optimistic_concurrency(as_role: AsRole) -> None:
    officer = as_role("intake_officer")
    case_id = register(officer)
    r = officer.get(f"/v1/cases/{case_id}")
    etag = r.headers["etag"]
    assert officer.patch(f"/v1/cases/{case_id}", json={"status": "FollowUp"}).status_code == 428
    first = officer.patch(f"/v1/cases/{case_id}", json={"status": "FollowUp"}, headers={"If-Match": etag})
    assert first.status_code == 200 and first.headers["etag"] != etag
    stale = officer.patch(f"/v1/cases/{case_id}", json={"status": "Active"}, headers={"If-Match": etag})
    assert stale.status_code == 409 and "version" in stale.json()["detail"]
    version = int(first.headers["etag"].strip('"'))
    assert (
        officer.patch(f"/v1/cases/{case_id}", json={"status": "Active", "expected_version": version}).status_code == 200
    )
    # sub-resources honour If-Match too
    r = officer.post(
        f"/v1/cases/{case_id}/risk-flags", json={"kind": "other", "severity": "low"}, headers={"If-Match": etag}
    )
    assert r.status_code == 409
    assert officer.get(f"/v1/cases/{case_id}").json()["status"] == "Active"


def test_listing_filters_pages_and_never_shows_identity(as_role: AsRole) -> None:
    region = f"Region {uuid.uuid4().hex[:8]}"
    officer = as_role("intake_officer")
    ids = {register(officer, region=region) for _ in range(3)}
    other_org = as_role("intake_officer", org=OTHER_ORG)
    hidden = register(other_org, region=region)
    page = officer.get("/v1/cases", params={"region": region, "limit": 2}).json()
    assert page["total"] == 3 and len(page["items"]) == 2
    rest = officer.get("/v1/cases", params={"region": region, "limit": 2, "cursor": page["next_cursor"]}).json()
    assert {c["case_id"] for c in page["items"] + rest["items"]} == ids
    assert hidden not in {c["case_id"] for c in page["items"] + rest["items"]}
    assert all("identity" not in c and "person_ref" not in c for c in page["items"])
    assert officer.get("/v1/cases", params={"region": region, "status": "Closed"}).json()["total"] == 0
    advocate = as_role("legal_advocate", sub=ADVOCATE, org=None)
    listed = {c["case_id"] for c in advocate.get("/v1/cases", params={"region": region}).json()["items"]}
    assert ids | {hidden} == listed  # the advocate is assigned to all four, across organisations
    assert officer.get("/v1/cases", params={"limit": 10_000}).status_code == 422


def test_identity_only_for_allowed_roles_and_break_glass(as_role: AsRole) -> None:
    officer = as_role("intake_officer")
    tag = uuid.uuid4().hex
    case_id = register(officer, tag)
    full = officer.get(f"/v1/cases/{case_id}", params={"include_identity": "true"}).json()
    assert full["identity"]["given_names"] == f"Given {tag}"
    assert officer.get(f"/v1/cases/{case_id}").json()["identity"] is None
    sup = as_role("supervisor").get(f"/v1/cases/{case_id}", params={"include_identity": "true"})
    assert sup.status_code == 200 and sup.json()["identity"]["birth_date"] == "2009-03-04"
    adv = as_role("legal_advocate", sub=ADVOCATE)
    assert adv.get(f"/v1/cases/{case_id}").status_code == 200
    assert adv.get(f"/v1/cases/{case_id}", params={"include_identity": "true"}).status_code == 403
    admin = as_role("admin", sub="admin-1", org=None)
    assert admin.get(f"/v1/cases/{case_id}", params={"include_identity": "true"}).status_code == 400
    glass = admin.get(
        f"/v1/cases/{case_id}",
        params={"include_identity": "true"},
        headers={"X-Access-Reason": "prosecutor request 2024-117"},
    )
    assert glass.status_code == 200 and glass.json()["identity"]["family_names"] == f"Family {tag}"


def test_referral_needs_consent_unless_a_supervisor_overrides(as_role: AsRole, events_of: EventsOf) -> None:
    officer = as_role("intake_officer")
    case_id = register(officer, consent_for_services=False)
    r = officer.post(f"/v1/cases/{case_id}/referrals", json={"to_org_id": OTHER_ORG})
    assert r.status_code == 409 and "consent_for_services" in r.json()["detail"]
    r = officer.post(
        f"/v1/cases/{case_id}/referrals",
        json={"to_org_id": OTHER_ORG, "consent_override_reason": "child in danger, guardian unreachable"},
    )
    assert r.status_code == 403
    sup = as_role("supervisor", sub="sup-1")
    r = sup.post(
        f"/v1/cases/{case_id}/referrals",
        json={"to_org_id": OTHER_ORG, "consent_override_reason": "child in danger, guardian unreachable"},
    )
    assert r.status_code == 201 and r.json()["consent_override"] is True
    audit = as_role("admin", org=None).get(
        "/v1/audit", params={"case_id": case_id, "action": "referral.consent_override"}
    )
    items = audit.json()["items"]
    assert len(items) == 1 and items[0]["actor"] == "sup-1" and items[0]["reason"].startswith("child in danger")
    events = events_of({case_id}, lambda evs: any(e["type"] == "centinela.referral.status_changed" for e in evs))
    assert [e["data"]["consent_override"] for e in events if e["type"] == "centinela.referral.status_changed"] == [True]


def test_bad_input_is_4xx_naming_the_field(as_role: AsRole, intake: Proc) -> None:
    officer = as_role("intake_officer")
    cases = [
        ({"bogus": 1}, "body.bogus"),
        ({"exploitation_types": ["Knitting"]}, "body.exploitation_types.0"),
        ({"rescue_date": "2999-01-01"}, "body.rescue_date"),
        ({"identity": {"birth_date": "2999-01-01"}}, "body.identity.birth_date"),
        ({"identity": {"documents": [{"type": "DNI", "number": "12;DROP"}]}}, "body.identity.documents.0.number"),
        ({"exploitation_types": ["ChildLabour", "ChildLabour"]}, "body.exploitation_types"),
    ]
    for body, field in cases:
        r = officer.post("/v1/cases", json=body)
        assert r.status_code == 422, body
        assert field in [d["field"] for d in r.json()["detail"]], (body, r.json())
    case_id = register(officer)
    svc = {"service_kind": "health", "provider_org_id": PROVIDER_ORG}
    assert officer.post(f"/v1/cases/{case_id}/services", json=svc).status_code == 422  # no due date nor timeframe
    r = officer.post(f"/v1/cases/{case_id}/services", json={**svc, "service_response_timeframe": "5_years"})
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.service_response_timeframe"
    r = officer.post(
        f"/v1/cases/{case_id}/services", json={**svc, "spl_Type": "Legal", "first_due_at": "2030-01-01T00:00:00Z"}
    )
    assert r.status_code == 422  # out of range, or spl_Type that does not fit: both are the body's fault
    r = officer.post(f"/v1/cases/{case_id}/services", json={**svc, "first_due_at": "2026-01-01T00:00:00"})
    assert r.status_code == 422  # naive datetimes are ambiguous
    r = officer.post(f"/v1/cases/{case_id}/services", json={**svc, "service_response_timeframe": "1_day"})
    sid = r.json()["service_id"]
    r = officer.post(
        f"/v1/cases/{case_id}/services/{sid}/sessions",
        json={"outcome": "attended", "occurred_at": "2999-01-01T00:00:00Z"},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.occurred_at"
    r = officer.post(
        f"/v1/cases/{case_id}/services/{sid}/sessions", json={"outcome": "maybe", "occurred_at": "2024-03-01T00:00:00Z"}
    )
    assert r.status_code == 422 and "must be one of" in r.json()["detail"][0]["msg"]
    r = officer.post(
        f"/v1/cases/{case_id}/services/sv_AAAAAAAAAAAAAAAA/sessions",
        json={"outcome": "attended", "occurred_at": "2024-03-01T00:00:00Z"},
    )
    assert r.status_code == 404
    assert officer.get("/v1/cases/not-a-case").status_code == 422
    assert officer.get("/v1/cases/cs_AAAAAAAAAAAAAAAAAAAAAA").status_code == 404
    assert officer.patch(f"/v1/cases/{case_id}", json={}, headers={"If-Match": '"1"'}).status_code == 422
    assert (
        officer.patch(f"/v1/cases/{case_id}", json={"status": "Open"}, headers={"If-Match": "nope"}).status_code == 422
    )
    big = officer.post(
        "/v1/cases", content=b"{" + b" " * 1_100_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert big.status_code == 413
    assert (
        officer.post("/v1/cases", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 422
    )
    assert httpx.get(intake.url + "/v1/cases").status_code == 401
    r = as_role("intake_officer", org=None).post("/v1/cases", json={})
    assert r.status_code == 403
    assert officer.post("/v1/cases", json={"org_id": OTHER_ORG}).status_code == 403


def test_a_body_that_contradicts_itself_is_422_naming_the_field_a_clash_with_the_case_409(as_role: AsRole) -> None:
    """Issue 11 item 8: 422 for what the body says wrong whatever the case holds; 409 for what the case
    holds (consent not given, already recorded, closed); the document declares both."""
    officer = as_role("intake_officer")
    case_id = register(officer)
    svc = {"service_kind": "health", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_day"}

    def field(r: httpx.Response) -> str:
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        assert error["msg"] and error["type"]
        return str(error["field"])

    r = officer.post(f"/v1/cases/{case_id}/services", json={**svc, "spl_Type": "Legal"})
    assert field(r) == "body.spl_Type" and "does not fit service_kind" in r.json()["detail"][0]["msg"]
    r = officer.post(f"/v1/cases/{case_id}/services", json={**svc, "sessions_planned": 3})
    assert field(r) == "body.interval_days"
    r = officer.post(
        f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": "2030-06-01", "done_date": "2024-05-01"}
    )
    assert field(r) == "body.outcome" and r.json()["detail"][0]["msg"] == "done_date and outcome go together"
    r = officer.post(
        f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": "2030-06-01", "outcome": "declined"}
    )
    assert field(r) == "body.done_date"
    sid = officer.post(f"/v1/cases/{case_id}/services", json=svc).json()["service_id"]
    r = officer.post(
        f"/v1/cases/{case_id}/services/{sid}/sessions",
        json={"outcome": "attended", "occurred_at": "2024-05-01T10:00:00Z", "missed_reason": "transport"},
    )
    assert field(r) == "body.missed_reason"
    etag = officer.get(f"/v1/cases/{case_id}").headers["etag"]
    r = officer.patch(f"/v1/cases/{case_id}", json={"advocate_id": None}, headers={"If-Match": etag})
    assert field(r) == "body.advocate_id"
    assert officer.get(f"/v1/cases/{case_id}").json()["advocate_id"] == ADVOCATE  # nothing changed

    fid = officer.post(f"/v1/cases/{case_id}/follow-ups", json={"followup_needed_by_date": "2030-06-01"}).json()[
        "followup_id"
    ]
    done = {"done_date": "2024-05-30", "outcome": "contacted_stable"}
    assert officer.patch(f"/v1/cases/{case_id}/follow-ups/{fid}", json=done).status_code == 200
    again = officer.patch(f"/v1/cases/{case_id}/follow-ups/{fid}", json=done)
    assert again.status_code == 409 and again.json()["detail"] == "this follow-up is already recorded"

    document = officer.get("/openapi.json").json()["paths"]
    assert {"409", "422"} <= set(document["/v1/cases/{case_id}/services"]["post"]["responses"])
    assert {"409", "422"} <= set(document["/v1/cases/{case_id}/follow-ups"]["post"]["responses"])
    assert {"409", "422", "428"} <= set(document["/v1/cases/{case_id}"]["patch"]["responses"])


def test_stats_and_metrics(as_role: AsRole, intake: Proc) -> None:
    officer = as_role("intake_officer")
    case_id = register(officer)
    r = officer.post(f"/v1/cases/{case_id}/risk-flags", json={"kind": "runaway_missing", "severity": "critical"})
    assert r.status_code == 201
    ops = as_role("ops_viewer", org=None).get("/v1/stats").json()
    assert ops["scope"] == "all" and ops["cases_total"] >= 1 and ops["cases_by_status"]["Active"] >= 1
    mine = as_role("supervisor").get("/v1/stats").json()
    assert mine["scope"] == f"org:{ORG}" and mine["cases_total"] <= ops["cases_total"]
    text = httpx.get(intake.url + "/metrics").text
    assert "centinela_intake_cases_registered_total" in text
    assert 'centinela_intake_risk_flags_total{kind="runaway_missing"}' in text
    assert "centinela_intake_outbox_backlog_events" in text and "centinela_intake_http_request_duration_seconds" in text
    assert case_id not in text
    r = officer.post(
        f"/v1/cases/{case_id}/services",
        json={"service_kind": "education", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_day"},
    )
    sid = r.json()["service_id"]

    def cancelled() -> float:
        for line in httpx.get(intake.url + "/metrics").text.splitlines():
            if line.startswith('centinela_intake_sessions_recorded_total{outcome="cancelled"}'):
                return float(line.split()[-1])
        return 0.0

    before = cancelled()
    r = officer.post(
        f"/v1/cases/{case_id}/services/{sid}/sessions",
        json={"outcome": "cancelled", "occurred_at": "2024-04-01T09:00:00Z", "missed_reason": "transport"},
    )
    assert r.status_code == 201
    assert cancelled() == before + 1
