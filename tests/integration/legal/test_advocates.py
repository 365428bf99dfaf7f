"""Issue 12 item 1: advocates and supervisors record legal events through the integrators' endpoint."""

from __future__ import annotations

import pytest

from tests.integration.legal.conftest import new_id, post, readable_timeline, register_case, timeline, update
from tests.integration.legal.test_rest import legal_events

pytestmark = pytest.mark.integration


def person_update(case_id: str, kind: str, occurred_at: str, **fields):
    body = update(case_id, kind, occurred_at, **fields)
    del body["source_system"]  # the console may leave it out: people record under centinela-web
    return body


def test_advocate_and_supervisor_record_and_integrator_reconciles(legal, tokens, producer, stack_env):
    org, case_id, other_case = new_id("org"), new_id("c"), new_id("c")
    register_case(producer, case_id, org, "adv-rec")
    register_case(producer, other_case, org, "adv-other")
    advocate = tokens("legal_advocate", sub="adv-rec", org=org)
    supervisor = tokens("supervisor", sub="sup-rec", org=org)
    readable_timeline(legal, case_id, advocate)  # access learned from case-events
    readable_timeline(legal, other_case, tokens("legal_advocate", sub="adv-other", org=org))

    # the advocate records the formalisation the day it happened (Lima time)
    stage = person_update(case_id, "stage_changed", "2025-03-03T09:00:00-05:00", stage="preliminary_investigation")
    r = post(legal, advocate, stage)
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "accepted", r.text
    assert post(legal, advocate, stage).json()["results"][0]["status"] == "duplicate"  # same idempotency
    # the supervisor of the org records a hearing
    hearing = person_update(
        case_id,
        "hearing_scheduled",
        "2025-03-04T10:00:00-05:00",
        hearing_id="h-adv-1",
        scheduled_for="2025-04-10T09:00:00-05:00",
    )
    assert post(legal, supervisor, {"updates": [hearing]}).json()["accepted"] == 1
    # same rules as integrators: an illegal move is refused with the reason naming the rule
    illegal = person_update(case_id, "stage_changed", "2025-03-05T10:00:00-05:00", stage="appeal")
    result = post(legal, advocate, illegal).json()["results"][0]
    assert result["status"] == "rejected" and "preliminary_investigation -> appeal" in result["reason"]
    # out of scope looks like unknown: 404, nothing applied
    for headers, target in (
        (advocate, other_case),
        (advocate, new_id("c")),
        (tokens("supervisor", sub="sup-z", org=new_id("org")), case_id),
    ):
        r = post(legal, headers, person_update(target, "appeal_filed", "2025-03-06T10:00:00-05:00"))
        assert r.status_code == 404 and r.json()["detail"] == "updates.0.case_id: no legal timeline for this case"
    # a person cannot write in an integrator's namespace; bad dates are 422 naming the field
    assert post(legal, advocate, {**stage, "source_system": "sgf"}).status_code == 403
    bad = post(legal, advocate, person_update(case_id, "appeal_filed", "9999-12-31T23:59:59-14:00"))
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.occurred_at"

    # later the integrator reports the same facts: the same day, and the same hearing date
    h = tokens.integrator()
    same_stage = update(case_id, "stage_changed", "2025-03-03T16:30:00-05:00", stage="preliminary_investigation")
    same_hearing = update(
        case_id,
        "hearing_scheduled",
        "2025-03-04T12:00:00-05:00",
        hearing_id="EXP-2025-77-h1",
        scheduled_for="2025-04-10T14:00:00Z",
    )
    other_hearing = update(
        case_id,
        "hearing_scheduled",
        "2025-03-04T12:00:00-05:00",
        hearing_id="EXP-2025-77-h2",
        scheduled_for="2025-05-10T14:00:00Z",
    )
    out = post(legal, h, {"updates": [same_stage, same_hearing, other_hearing]}).json()["results"]
    assert [(x["status"], x["reconciled_with"]) for x in out] == [
        ("accepted", stage["update_id"]),
        ("accepted", hearing["update_id"]),
        ("accepted", None),
    ]
    assert post(legal, h, same_stage).json()["results"][0]["status"] == "duplicate"
    # and an advocate recording what the integrator already reported keeps it once too
    notified = update(case_id, "victim_notified", "2025-03-07T10:00:00-05:00", about="hearing")
    assert post(legal, h, notified).json()["accepted"] == 1
    again = post(
        legal, advocate, person_update(case_id, "victim_notified", "2025-03-07T18:00:00-05:00", about="hearing")
    )
    assert again.json()["results"][0]["status"] == "duplicate"
    assert again.json()["results"][0]["reconciled_with"] == notified["update_id"]

    t = timeline(legal, case_id, advocate).json()
    kinds = [(e["kind"], e["recorded_by"]["type"]) for e in t["entries"]]
    assert kinds == [
        ("stage_changed", "person"),
        ("hearing_scheduled", "person"),
        ("hearing_scheduled", "system"),
        ("victim_notified", "system"),
    ]
    first = t["entries"][0]
    assert first["recorded_by"] == {"type": "person", "source_system": None, "sub": "adv-rec", "role": "legal_advocate"}
    assert first["source_system"] == "centinela-web"
    assert first["confirmed_by"]["source_system"] == "sgf"
    assert first["confirmed_by"]["update_id"] == same_stage["update_id"]
    assert t["entries"][1]["recorded_by"]["role"] == "supervisor"
    assert t["entries"][1]["confirmed_by"]["update_id"] == same_hearing["update_id"]
    assert t["entries"][2]["recorded_by"] == {"type": "system", "source_system": "sgf", "sub": None, "role": None}
    assert t["entries"][2]["confirmed_by"] is None
    assert len(t["hearings"]) == 2 and t["stage"] == "preliminary_investigation"

    # one fact, one event: the reconciled integrator updates published nothing
    events = legal_events(stack_env, case_id, lambda evs: any(e.type.endswith("victim_notified") for e in evs))
    assert [e.type for e in events] == [
        "centinela.legal.stage_changed",
        "centinela.legal.hearing_scheduled",
        "centinela.legal.hearing_scheduled",
        "centinela.legal.victim_notified",
    ]
