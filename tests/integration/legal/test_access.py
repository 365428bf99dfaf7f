"""Who reads a timeline (the case's advocate, its org's supervisors) and the supervisors' list."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from tests.integration.legal.conftest import (
    assign_advocate,
    new_id,
    post,
    readable_timeline,
    register_case,
    scheduled,
    timeline,
    update,
)
from tests.support import wait_for

pytestmark = pytest.mark.integration


def _full_case(legal, tokens, case_id):
    h = tokens.integrator()
    body = {
        "updates": [
            update(case_id, "stage_changed", "2025-01-02T10:00:00Z", stage="preliminary_investigation"),
            update(case_id, "legal_representation_assigned", "2025-01-03T10:00:00Z", representative_ref="dp-1"),
            update(case_id, "protective_measure_granted", "2025-01-04T10:00:00Z", measure="restraining_order"),
            update(case_id, "stage_changed", "2025-01-20T10:00:00Z", stage="intermediate_stage"),
            update(case_id, "stage_changed", "2025-02-20T10:00:00Z", stage="trial"),
            scheduled(case_id, "2025-02-21T10:00:00Z", "h1", "2025-03-01T10:00:00Z"),
            update(case_id, "victim_notified", "2025-02-22T10:00:00Z", about="hearing"),
            update(
                case_id,
                "hearing_postponed",
                "2025-03-01T10:00:00Z",
                hearing_id="h1",
                reason="defence_absent",
                new_date="2025-03-15T10:00:00Z",
            ),
            update(case_id, "victim_attended", "2025-03-15T10:00:00Z", hearing_id="h1"),
            update(case_id, "hearing_held", "2025-03-15T11:00:00Z", hearing_id="h1"),
            update(case_id, "verdict_issued", "2025-03-20T10:00:00Z", outcome="conviction"),
            update(case_id, "reparation_ordered", "2025-03-20T10:00:01Z", amount=30000, currency="PEN"),
            update(case_id, "appeal_filed", "2025-03-25T10:00:00Z"),
            update(case_id, "reparation_paid", "2025-04-01T10:00:00Z", amount=5000, currency="PEN"),
        ]
    }
    out = post(legal, h, body).json()
    assert out["accepted"] == len(body["updates"]), [r for r in out["results"] if r["status"] != "accepted"]


def test_timeline_access_matrix_and_content(legal, tokens, producer):
    case_id = new_id("c")
    _full_case(legal, tokens, case_id)
    register_case(producer, case_id, "org-a", "adv-a")
    t = readable_timeline(legal, case_id, tokens("legal_advocate", sub="adv-a", org="org-a"))
    assert t["stage"] == "appeal" and t["open"] is True
    assert t["hearings"][0]["status"] == "held" and t["hearings"][0]["victim"] == "attended"
    assert t["hearings"][0]["postponements"][0]["reason"] == "defence_absent"
    assert t["victim_notifications"][0]["about"] == "hearing"
    assert t["representation"][0]["representative_ref"] == "dp-1"
    assert t["protective_measures"][0]["measure"] == "restraining_order"
    assert t["verdicts"][0]["outcome"] == "conviction"
    assert t["reparations_ordered"][0]["amount"] == 30000 and t["reparations_paid"][0]["currency"] == "PEN"
    assert [s["stage"] for s in t["stage_history"]][-2:] == ["verdict", "appeal"]

    allowed = {
        "advocate of the case": tokens("legal_advocate", sub="adv-a", org="org-a"),
        "supervisor of the org": tokens("supervisor", sub="sup-a", org="org-a"),
    }
    # Out of scope looks exactly like missing (issue 11): 404 with the unknown case's body.
    unknown = timeline(legal, new_id("c"), allowed["supervisor of the org"])
    assert unknown.status_code == 404
    out_of_scope = {
        "another advocate": tokens("legal_advocate", sub="adv-b", org="org-a"),
        "supervisor of another org": tokens("supervisor", sub="sup-b", org="org-b"),
        "supervisor without org": tokens("supervisor", sub="sup-x"),
    }
    for who, headers in out_of_scope.items():
        r = timeline(legal, case_id, headers)
        assert (r.status_code, r.json()) == (404, unknown.json()), who
    denied = {
        "service provider": tokens("service_provider", sub="sp", org="org-a"),
        "intake officer": tokens("intake_officer", sub="io", org="org-a"),
        "ops viewer": tokens("ops_viewer", sub="ops"),
        "court integrator": tokens.integrator(),
        "admin": tokens("admin", sub="adm", org="org-a"),
    }
    for who, headers in allowed.items():
        assert timeline(legal, case_id, headers).status_code == 200, who
    for who, headers in denied.items():  # no role that reads timelines: refused before any lookup
        assert timeline(legal, case_id, headers).status_code == 403, who
    assert timeline(legal, case_id, {}).status_code == 401
    assert timeline(legal, new_id("c"), allowed["supervisor of the org"]).status_code == 404

    # reassignment: the new advocate reads, the old one no longer does
    assign_advocate(producer, case_id, "org-a", "adv-new")
    readable_timeline(legal, case_id, tokens("legal_advocate", sub="adv-new"))
    assert timeline(legal, case_id, allowed["advocate of the case"]).status_code == 404


def test_supervisor_list_filters_by_org_stage_and_stall(legal, tokens, producer):
    org = new_id("org")
    h = tokens.integrator()
    old, recent, other_org = new_id("c"), new_id("c"), new_id("c")
    for case_id, started in ((old, "2025-01-02T10:00:00Z"), (recent, "2025-06-02T10:00:00Z")):
        post(legal, h, update(case_id, "stage_changed", started, stage="preliminary_investigation"))
        register_case(producer, case_id, org, "adv-list")
    post(legal, h, update(other_org, "stage_changed", "2025-01-02T10:00:00Z", stage="preliminary_investigation"))
    register_case(producer, other_org, new_id("org"), "adv-list")
    sup = tokens("supervisor", sub="sup", org=org)
    url = legal.url + "/v1/legal/cases"

    def listed(**params) -> dict:
        r = httpx.get(url, params=params, headers=sup, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def both() -> dict | None:
        got = listed()
        return got if got["total"] == 2 else None

    page = wait_for(both, timeout=60, what="both cases listed")
    assert [i["case_id"] for i in page["items"]] == [old, recent]  # oldest stage first
    assert all(i["overdue"] for i in page["items"])  # 60 days are long gone
    assert listed(stage="trial")["total"] == 0
    assert [i["case_id"] for i in listed(stalled_since="2025-03-01T00:00:00Z")["items"]] == [old]
    assert [i["case_id"] for i in listed(page_size=1, page=2)["items"]] == [recent]
    assert listed(overdue="true")["total"] == 2

    assert httpx.get(url, params={"stage": "nonsense"}, headers=sup, timeout=30).status_code == 422
    assert httpx.get(url, headers=tokens("supervisor", sub="s"), timeout=30).status_code == 403
    assert httpx.get(url, headers=tokens("legal_advocate", sub="adv-list", org=org), timeout=30).status_code == 403
    assert httpx.get(url, headers=tokens("service_provider", sub="sp", org=org), timeout=30).status_code == 403


def test_deadline_from_configuration_in_seconds(legal, tokens, producer):
    case_id = new_id("c")
    now = datetime.now(UTC).replace(microsecond=0)
    body = {
        "updates": [
            update(case_id, "stage_changed", "2025-01-02T10:00:00Z", stage="preliminary_investigation"),
            update(case_id, "stage_changed", "2025-01-03T10:00:00Z", stage="intermediate_stage"),
            update(case_id, "stage_changed", now.isoformat(), stage="trial"),
        ]
    }
    assert post(legal, tokens.integrator(), body).json()["accepted"] == 3
    register_case(producer, case_id, "org-s", "adv-s")
    t = readable_timeline(legal, case_id, tokens("supervisor", org="org-s"))
    deadline = datetime.fromisoformat(t["deadline_at"].replace("Z", "+00:00"))
    assert (deadline - now).total_seconds() == 5  # the test deadlines file gives trial 5s
    wait_for(
        lambda: timeline(legal, case_id, tokens("supervisor", org="org-s")).json()["overdue"],
        timeout=30,
        what="trial overdue after 5s",
    )
