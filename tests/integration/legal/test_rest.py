"""The REST way in, through a real uvicorn process, the real database server and the real broker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.events import decode
from tests.integration.legal.conftest import new_id, post, readable_timeline, register_case, scheduled, update
from tests.support import consumer, drain
from tests.unit.legal.lima import eod

pytestmark = pytest.mark.integration


def legal_events(stack_env, case_id, until, timeout=60):
    with consumer(stack_env, "legal-events") as c:
        records = drain(
            c, lambda rs: until([decode(r.value) for r in rs if r.key == case_id.encode()]), timeout=timeout
        )
    return [decode(r.value) for r in records if r.key == case_id.encode()]


def test_batch_accepted_and_facts_published_with_deadline(legal, tokens, stack_env, producer):
    case_id = new_id("c")
    body = {
        "updates": [
            update(case_id, "stage_changed", "2025-01-02T09:00:00-05:00", stage="complaint_filed"),
            update(case_id, "stage_changed", "2025-01-10T09:00:00-05:00", stage="preliminary_investigation"),
            scheduled(case_id, "2025-01-11T09:00:00-05:00", "h1", "2025-02-01T09:00:00-05:00"),
        ]
    }
    r = post(legal, tokens.integrator(), body)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 3 and [x["status"] for x in r.json()["results"]] == ["accepted"] * 3

    events = legal_events(stack_env, case_id, lambda evs: len(evs) >= 3)
    assert [e.type for e in events] == [
        "centinela.legal.stage_changed",
        "centinela.legal.stage_changed",
        "centinela.legal.hearing_scheduled",
    ]
    second = events[1].payload
    assert second.previous_stage == "complaint_filed" and second.stage == "preliminary_investigation"
    # 60 days from the configured file, ending with the last Lima day (issue 12 item 3)
    assert second.deadline_at == eod(datetime(2025, 3, 11, 14, 0, tzinfo=UTC))
    assert events[2].payload.stage == "preliminary_investigation"

    register_case(producer, case_id, "org-rest", "adv-rest")
    t = readable_timeline(legal, case_id, tokens("legal_advocate", sub="adv-rest"))
    assert t["stage"] == "preliminary_investigation"
    assert t["deadline_at"].startswith("2025-03-12T05:00:00")
    assert t["hearings"][0]["hearing_id"] == "h1" and t["hearings"][0]["status"] == "scheduled"


def test_duplicates_are_no_ops(legal, tokens, stack_env):
    case_id = new_id("c")
    first = update(case_id, "stage_changed", "2025-01-02T09:00:00Z", stage="complaint_filed")
    assert post(legal, tokens.integrator(), first).json()["results"][0]["status"] == "accepted"
    again = post(legal, tokens.integrator(), {"updates": [first, first]}).json()
    assert [x["status"] for x in again["results"]] == ["duplicate", "duplicate"]
    # A marker after the replays: events of one case are ordered, so a duplicate's fact would precede it.
    marker = update(case_id, "victim_notified", "2025-01-03T09:00:00Z", about="complaint")
    assert post(legal, tokens.integrator(), marker).json()["accepted"] == 1
    events = legal_events(stack_env, case_id, lambda evs: any(e.type.endswith("victim_notified") for e in evs))
    assert [e.type for e in events] == ["centinela.legal.stage_changed", "centinela.legal.victim_notified"]


def test_same_update_id_for_another_case_is_rejected(legal, tokens):
    first = update(new_id("c"), "stage_changed", "2025-01-02T09:00:00Z", stage="complaint_filed")
    assert post(legal, tokens.integrator(), first).json()["accepted"] == 1
    reused = {**first, "case_id": new_id("c")}
    result = post(legal, tokens.integrator(), reused).json()["results"][0]
    assert result["status"] == "rejected" and "another case" in result["reason"]


def test_out_of_order_updates_are_placed_by_occurred_at_and_never_move_stage_back(legal, tokens, producer):
    case_id = new_id("c")
    h = tokens.integrator()
    later = [
        update(case_id, "stage_changed", "2025-02-01T10:00:00Z", stage="preparatory_investigation"),
        update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="complaint_filed"),
        update(case_id, "stage_changed", "2025-01-15T10:00:00Z", stage="preliminary_investigation"),
        update(case_id, "victim_notified", "2025-01-20T10:00:00Z", about="hearing"),
    ]
    # Formalisation first cannot start a prosecution; once the history arrives it fits.
    results = post(legal, h, {"updates": later}).json()["results"]
    assert [x["status"] for x in results] == ["rejected", "accepted", "accepted", "accepted"]
    assert post(legal, h, later[0]).json()["results"][0]["status"] == "accepted"
    late_hearing = update(case_id, "hearing_held", "2025-01-25T10:00:00Z", hearing_id="h-late")
    assert post(legal, h, late_hearing).json()["accepted"] == 1
    # The same stage reported again with an earlier date would make the accepted one illegal.
    late_stage = update(case_id, "stage_changed", "2025-01-10T10:00:00Z", stage="preliminary_investigation")
    late_result = post(legal, h, late_stage).json()["results"][0]
    assert late_result["status"] == "rejected"  # already in preliminary by then: it conflicts with the later one

    register_case(producer, case_id, "org-ooo", "adv-ooo")
    t = readable_timeline(legal, case_id, tokens("supervisor", org="org-ooo"))
    assert t["stage"] == "preparatory_investigation"
    assert t["stage_started_at"].startswith("2025-02-01T10:00:00")
    occurred = [e["occurred_at"] for e in t["entries"]]
    assert occurred == sorted(occurred)
    assert [e["kind"] for e in t["entries"]] == [
        "stage_changed",
        "stage_changed",
        "victim_notified",
        "hearing_held",
        "stage_changed",
    ]
    assert [s["stage"] for s in t["stage_history"]] == [
        "complaint_filed",
        "preliminary_investigation",
        "preparatory_investigation",
    ]


def test_late_archive_that_contradicts_later_history_is_rejected(legal, tokens):
    case_id = new_id("c")
    h = tokens.integrator()
    body = {
        "updates": [
            update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="preliminary_investigation"),
            update(case_id, "stage_changed", "2025-03-01T10:00:00Z", stage="preparatory_investigation"),
            update(case_id, "case_archived", "2025-02-01T10:00:00Z", reason="insufficient_evidence"),
        ]
    }
    results = post(legal, h, body).json()["results"]
    assert [x["status"] for x in results] == ["accepted", "accepted", "rejected"]
    assert "occurred_at" in results[2]["reason"] and "illegal" in results[2]["reason"]


def test_illegal_transitions_rejected_with_reason(legal, tokens, stack_env):
    case_id = new_id("c")
    h = tokens.integrator()
    body = {
        "updates": [
            update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="trial"),
            update(case_id, "stage_changed", "2025-01-06T10:00:00Z", stage="preliminary_investigation"),
            # (preliminary -> trial is proceso inmediato since issue 12; -> appeal never is legal)
            update(case_id, "stage_changed", "2025-01-07T10:00:00Z", stage="appeal"),
            update(case_id, "verdict_issued", "2025-01-08T10:00:00Z", outcome="conviction"),
            update(case_id, "case_reopened", "2025-01-09T10:00:00Z"),
            update(case_id, "case_archived", "2025-01-10T10:00:00Z", reason="insufficient_evidence"),
            update(case_id, "stage_changed", "2025-01-11T10:00:00Z", stage="preparatory_investigation"),
            update(case_id, "case_reopened", "2025-01-12T10:00:00Z", reason="new_evidence"),
        ]
    }
    results = post(legal, h, body).json()["results"]
    assert [x["status"] for x in results] == [
        "rejected",  # a prosecution does not start in trial
        "accepted",
        "rejected",  # appeal before any verdict
        "rejected",  # verdict before trial
        "rejected",  # reopening an open case
        "accepted",
        "rejected",  # archived: needs reopening first
        "accepted",
    ]
    assert "cannot start in trial" in results[0]["reason"]
    assert "preliminary_investigation -> appeal" in results[2]["reason"]
    assert "verdict_issued needs a trial" in results[3]["reason"]
    assert "case_reopened" in results[6]["reason"]
    events = legal_events(stack_env, case_id, lambda evs: any(e.type.endswith("case_reopened") for e in evs))
    changes = [(e.payload.previous_stage, e.payload.stage) for e in events if e.type.endswith("stage_changed")]
    assert changes == [
        (None, "preliminary_investigation"),
        ("preliminary_investigation", "archived"),
        ("archived", "preliminary_investigation"),
    ]


def test_batch_with_one_bad_item_keeps_the_good_ones(legal, tokens, stack_env):
    case_id = new_id("c")
    body = {
        "updates": [
            update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="complaint_filed"),
            update(case_id, "victim_notified", "2025-01-06T10:00:00Z", child_name="Rosa Mamani Quispe"),
            update(case_id, "protective_measure_granted", "2025-01-07T10:00:00Z", measure="Rosa lives at X"),
            {"source_system": "sgf", "kind": "nonsense"},
            "not even an object",
            update(case_id, "legal_representation_assigned", "2025-01-08T10:00:00Z"),
        ]
    }
    r = post(legal, tokens.integrator(), body)
    assert r.status_code == 200
    out = r.json()
    assert (out["accepted"], out["duplicate"], out["rejected"]) == (2, 0, 4)
    reasons = [x["reason"] for x in out["results"]]
    assert "child_name: unknown field" in reasons[1]
    assert "measure: must be a snake_case code" in reasons[2]
    assert "kind: must be one of" in reasons[3]
    assert "JSON object" in reasons[4]
    assert "Rosa" not in r.text and "Mamani" not in r.text
    events = legal_events(stack_env, case_id, lambda evs: any(e.type.endswith("representation_assigned") for e in evs))
    assert [e.type for e in events] == ["centinela.legal.stage_changed", "centinela.legal.representation_assigned"]


def test_request_shape_errors(legal, tokens):
    h = tokens.integrator()
    assert post(legal, h, {"updates": []}).status_code == 422
    assert post(legal, h, {"updates": "x"}).status_code == 422
    assert post(legal, h, {"updates": [], "extra": 1}).status_code == 422
    too_many = [update(new_id("c"), "appeal_filed", "2025-01-01T00:00:00Z") for _ in range(501)]
    r = post(legal, h, {"updates": too_many})
    assert r.status_code == 422 and "at most 500" in r.text
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    result = post(legal, h, update(new_id("c"), "stage_changed", future, stage="complaint_filed")).json()
    assert result["results"][0]["reason"] == "occurred_at: in the future"


def test_integrator_for_another_source_system_gets_403(legal, tokens):
    case_id = new_id("c")
    mine = update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="complaint_filed", source="sgf")
    theirs = update(case_id, "stage_changed", "2025-01-05T10:00:00Z", stage="complaint_filed", source="cej")
    assert post(legal, tokens.integrator("cej"), mine).status_code == 403
    mixed = post(legal, tokens.integrator("sgf"), {"updates": [mine, theirs]})
    assert mixed.status_code == 403 and "updates.1.source_system" in mixed.text
    # nothing of the mixed batch was applied
    assert post(legal, tokens.integrator("sgf"), mine).json()["results"][0]["status"] == "accepted"
    assert post(legal, tokens("court_integrator", sub="no-source"), mine).status_code == 403
    for role in ("legal_advocate", "supervisor", "service_provider", "intake_officer", "ops_viewer", "admin"):
        assert post(legal, tokens(role, org="org-1"), mine).status_code == 403, role
    assert post(legal, {}, mine).status_code == 401
