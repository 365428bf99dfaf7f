"""Court updates become typed, versioned facts that decode with the shared codec."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.legal.domain.deadlines import load_policy
from services.legal.domain.timeline import Recorded, envelopes, facts_for, integrate
from services.legal.domain.updates import parse_update, schema_examples
from services.legal.settings import DEFAULT_DEADLINES_FILE
from shared.events import decode, encode
from shared.events import legal as ev
from tests.unit.legal.lima import eod

POLICY = load_policy(DEFAULT_DEADLINES_FILE)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def recorded(n: int, kind: str, day: int, **fields) -> Recorded:
    update = parse_update(
        {
            "source_system": "sgf",
            "update_id": f"u{n}",
            "case_id": "c-9",
            "kind": kind,
            "occurred_at": (T0 + timedelta(days=day)).isoformat(),
            **fields,
        }
    )
    return Recorded(update=update, received_at=datetime.now(UTC) + timedelta(microseconds=n))


def test_stage_changed_carries_previous_stage_and_deadline():
    first = recorded(1, "stage_changed", 0, stage="complaint_filed")
    second = recorded(2, "stage_changed", 1, stage="preliminary_investigation")
    facts = facts_for(second.update, integrate([first], second, POLICY))
    assert len(facts) == 1 and isinstance(facts[0], ev.StageChanged)
    fact = facts[0]
    assert fact.previous_stage == "complaint_filed" and fact.stage == "preliminary_investigation"
    assert fact.stage_started_at == T0 + timedelta(days=1)
    assert fact.deadline_at == eod(T0 + timedelta(days=61))
    event = decode(encode(envelopes(facts)[0]))
    assert event.type == "centinela.legal.stage_changed" and event.case_id == "c-9"
    assert event.payload == fact


NEEDS_HISTORY = (
    "stage_changed",
    "verdict_issued",
    "appeal_filed",
    "case_reopened",
    "elevation_requested",
    "elevation_decided",
    "accusation_filed",
    "dismissal_requested",
    "trial_suspended",
    "trial_resumed",
    "protective_measure_renewed",  # a measure granted before: test_harm_updates
    "protective_measure_ended",
)
SET_ASIDE = ("case_archived", "provisional_reserve", "principio_de_oportunidad")


def test_every_kind_maps_to_its_fact_with_the_stage_after_it():
    stage = recorded(0, "stage_changed", 0, stage="preliminary_investigation")
    for n, example in enumerate(schema_examples().values(), start=1):
        if example["kind"] in NEEDS_HISTORY:
            continue  # need a particular history; covered below and in test_deadlines_in_law
        example = {**example, "case_id": "c-9", "occurred_at": (T0 + timedelta(days=1)).isoformat()}
        rec = Recorded(update=parse_update(example), received_at=datetime.now(UTC) + timedelta(microseconds=n))
        facts = facts_for(rec.update, integrate([stage], rec, POLICY))
        kind_fact = facts[-1]
        assert kind_fact.stage == ("archived" if example["kind"] in SET_ASIDE else "preliminary_investigation")
        assert kind_fact.update_id == example["update_id"] and kind_fact.source_system == example["source_system"]
        for env in envelopes(facts):
            assert decode(encode(env)).payload.case_id == "c-9"


def test_archive_emits_stage_change_then_fact_and_reopen_likewise():
    stage = recorded(1, "stage_changed", 0, stage="preliminary_investigation")
    archive = recorded(2, "case_archived", 1, reason="insufficient_evidence")
    facts = facts_for(archive.update, integrate([stage], archive, POLICY))
    # and the victim's window to ask for elevation opens (art. 334.5, issue 12 item 3)
    assert [type(f) for f in facts] == [ev.StageChanged, ev.CaseArchived, ev.DeadlineSet]
    assert isinstance(facts[0], ev.StageChanged) and facts[0].stage == "archived" and facts[0].deadline_at is None
    assert isinstance(facts[1], ev.CaseArchived) and facts[1].reason == "insufficient_evidence"
    reopen = recorded(3, "case_reopened", 2, reason="new_evidence")
    facts = facts_for(reopen.update, integrate([stage, archive], reopen, POLICY))
    assert [type(f) for f in facts] == [ev.StageChanged, ev.CaseReopened, ev.DeadlineSet]
    assert isinstance(facts[2], ev.DeadlineSet) and facts[2].status == "cancelled"  # the window closes
    assert isinstance(facts[0], ev.StageChanged)
    assert facts[0].previous_stage == "archived" and facts[0].stage == "preliminary_investigation"
    assert facts[0].deadline_at == eod(T0 + timedelta(days=62))


def test_hearing_postponed_carries_count_in_stage():
    stage = recorded(1, "stage_changed", 0, stage="preliminary_investigation")
    p1 = recorded(2, "hearing_postponed", 1, hearing_id="h", reason="judge_absent")
    p2 = recorded(3, "hearing_postponed", 2, hearing_id="h", reason="judge_absent")
    facts = facts_for(p2.update, integrate([stage, p1], p2, POLICY))
    assert isinstance(facts[0], ev.HearingPostponed) and facts[0].postponements_in_stage == 2


def test_late_stage_change_emits_nothing():
    later = recorded(1, "stage_changed", 5, stage="preliminary_investigation")
    early = recorded(2, "stage_changed", 0, stage="complaint_filed")
    assert facts_for(early.update, integrate([later], early, POLICY)) == []


def test_event_ids_are_deterministic_per_update_and_type():
    first = recorded(1, "stage_changed", 0, stage="complaint_filed")
    facts = facts_for(first.update, integrate([], first, POLICY))
    assert envelopes(facts)[0].id == envelopes(facts)[0].id
    archive = recorded(2, "case_archived", 1, reason="no_crime")
    ids = [e.id for e in envelopes(facts_for(archive.update, integrate([first], archive, POLICY)))]
    assert len(set(ids)) == 3 and envelopes(facts)[0].id not in ids  # stage, archive, elevation window


def test_representation_maps_to_representation_assigned():
    rec = recorded(1, "legal_representation_assigned", 0, representative_ref="dp-7")
    facts = facts_for(rec.update, integrate([], rec, POLICY))
    assert isinstance(facts[0], ev.RepresentationAssigned) and facts[0].representative_ref == "dp-7"
    assert facts[0].stage is None
