"""Issue 12 item 2 through the real API and broker: the overdue deadline moves with an extension."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.legal.conftest import new_id, post, readable_timeline, register_case, timeline, update
from tests.integration.legal.test_rest import legal_events
from tests.unit.legal.lima import eod

pytestmark = pytest.mark.integration


def iso(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


def test_imported_case_extension_complexity_and_special_procedures(legal, tokens, producer, stack_env):
    org = new_id("org")
    now = datetime.now(UTC)
    prep, prelim = new_id("c"), new_id("c")
    for case_id in (prep, prelim):
        register_case(producer, case_id, org, "adv-proc")
    advocate = tokens("legal_advocate", sub="adv-proc", org=org)
    h = tokens.integrator()

    # the existing caseload: already 130 days into the preparatory investigation (120-day term)
    started = now - timedelta(days=130)
    imported = update(prep, "stage_changed", iso(started), stage="preparatory_investigation", imported=True)
    assert post(legal, h, imported).json()["accepted"] == 1
    t = readable_timeline(legal, prep, advocate)
    assert t["overdue"] is True and t["stage_history"][0]["imported"] is True
    assert t["deadline_basis"] == "CPP art. 342.1"

    # beyond the 60 days the law allows: refused naming the article; within: the deadline moves
    too_long = {
        "case_id": prep,
        "update_id": new_id("u"),
        "kind": "deadline_extended",
        "occurred_at": iso(now - timedelta(days=1)),
        "granted_by": "juez_investigacion",
        "legal_basis": "CPP art. 342.1",
        "extra_days": 61,
    }
    refused = post(legal, advocate, too_long).json()["results"][0]
    assert refused["status"] == "rejected" and "CPP art. 342.1: 120d + 60d extension" in refused["reason"]
    granted = {**too_long, "update_id": new_id("u"), "extra_days": 60}
    assert post(legal, advocate, granted).json()["results"][0]["status"] == "accepted"
    t = timeline(legal, prep, advocate).json()
    moved = datetime.fromisoformat(t["deadline_at"].replace("Z", "+00:00"))
    assert moved == eod(started.replace(microsecond=0) + timedelta(days=180))  # the last Lima day's end
    assert t["overdue"] is False and t["extensions"][0]["granted_by"] == "juez_investigacion"
    events = legal_events(stack_env, prep, lambda evs: any(e.type.endswith("deadline_extended") for e in evs))
    assert [e.type for e in events] == [
        "centinela.legal.stage_changed",
        "centinela.legal.stage_changed",  # same stage, the moved deadline: what the alerts side reads
        "centinela.legal.deadline_extended",
    ]
    assert events[1].payload.deadline_at == moved and events[1].payload.previous_stage == "preparatory_investigation"

    # preliminary for 70 days: overdue at 60 days, not once declared complex (art. 334.2: 8 months)
    assert (
        post(
            legal, h, update(prelim, "stage_changed", iso(now - timedelta(days=70)), stage="preliminary_investigation")
        ).json()["accepted"]
        == 1
    )
    assert readable_timeline(legal, prelim, advocate)["overdue"] is True
    declared = update(
        prelim, "complexity_declared", iso(now - timedelta(days=2)), complexity="complex", legal_basis="CPP art. 334.2"
    )
    assert post(legal, h, declared).json()["accepted"] == 1
    t = timeline(legal, prelim, advocate).json()
    assert t["overdue"] is False and t["complexity"] == "complex"
    # illegal transitions are refused naming the rule; proceso inmediato is a legal path
    verdict = post(legal, h, update(prelim, "stage_changed", iso(now - timedelta(days=1)), stage="verdict")).json()
    assert "under the CPP 2004 stage order" in verdict["results"][0]["reason"]
    trial = post(legal, h, update(prelim, "stage_changed", iso(now - timedelta(days=1)), stage="trial")).json()
    assert trial["accepted"] == 1
    t = timeline(legal, prelim, advocate).json()
    assert t["stage"] == "trial" and t["stage_history"][-1]["basis"] == "proceso inmediato, CPP arts. 446-448"
