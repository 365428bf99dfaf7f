"""The timeline fold: order by occurred_at, late arrivals, implicit stage moves, archive/reopen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.legal.domain.deadlines import DeadlinePolicy, load_policy
from services.legal.domain.timeline import IllegalUpdate, Recorded, integrate, replay
from services.legal.settings import DEFAULT_DEADLINES_FILE
from tests.unit.legal.lima import eod
from tests.unit.legal.records import build_with, recorded

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
POLICY: DeadlinePolicy = load_policy(DEFAULT_DEADLINES_FILE)


def rec(kind: str, day: float, **fields: object) -> Recorded:
    return recorded(kind, T0 + timedelta(days=day), **fields)


def build(*records: Recorded) -> list[Recorded]:
    """Integrate one by one in arrival order, as the pipeline does."""
    return build_with(POLICY, *records)


def test_stage_changes_in_order_set_stage_start_and_deadline():
    history = build(
        rec("stage_changed", 0, stage="complaint_filed"),
        rec("stage_changed", 2, stage="preliminary_investigation"),
    )
    state = replay(history, POLICY)
    assert state.stage == "preliminary_investigation"
    assert state.stage_started_at == T0 + timedelta(days=2)
    assert state.deadline is not None and state.deadline.deadline_at == eod(T0 + timedelta(days=62))
    assert [h["stage"] for h in state.stage_history] == ["complaint_filed", "preliminary_investigation"]


def test_illegal_transition_is_rejected_with_reason():
    history = build(rec("stage_changed", 0, stage="preliminary_investigation"))
    # (preliminary -> trial became legal with proceso inmediato, issue 12; -> appeal never is)
    with pytest.raises(IllegalUpdate, match="preliminary_investigation -> appeal"):
        integrate(history, rec("stage_changed", 1, stage="appeal"), POLICY)


def test_first_stage_cannot_be_trial():
    with pytest.raises(IllegalUpdate, match="cannot start in trial"):
        integrate([], rec("stage_changed", 0, stage="trial"), POLICY)


def test_same_stage_twice_is_refused_but_reclassification_is_allowed():
    history = build(
        rec("stage_changed", 0, stage="preliminary_investigation"),
        rec("stage_changed", 5, stage="preparatory_investigation"),
    )
    with pytest.raises(IllegalUpdate, match="already in preparatory_investigation"):
        integrate(history, rec("stage_changed", 6, stage="preparatory_investigation"), POLICY)
    result = integrate(
        history, rec("stage_changed", 30, stage="preparatory_investigation", complexity="complex"), POLICY
    )
    assert result.stage_changed
    after = result.after
    assert after.complexity == "complex"
    assert after.stage_started_at == T0 + timedelta(days=5)  # the stage did not restart
    assert after.deadline is not None and after.deadline.deadline_at == eod(datetime(2025, 9, 6, 12, 0, tzinfo=UTC))


def test_complexity_set_with_the_stage_applies_its_term():
    history = build(rec("stage_changed", 0, stage="preliminary_investigation"))
    result = integrate(
        history, rec("stage_changed", 10, stage="preparatory_investigation", complexity="organised_crime"), POLICY
    )
    assert result.after.deadline is not None
    assert result.after.deadline.deadline_at == eod(datetime(2028, 1, 11, 12, 0, tzinfo=UTC))


def test_late_non_stage_update_is_placed_by_occurred_at():
    history = build(
        rec("stage_changed", 0, stage="complaint_filed"),
        rec("stage_changed", 10, stage="preliminary_investigation"),
    )
    late = rec("victim_notified", 5, about="complaint")
    result = integrate(history, late, POLICY)
    assert result.late and not result.stage_changed
    entries = replay([*history, late], POLICY).entries
    assert [e.update.kind for e in entries] == ["stage_changed", "victim_notified", "stage_changed"]


def test_late_stage_change_fills_history_without_moving_the_stage():
    prelim = rec("stage_changed", 10, stage="preliminary_investigation")
    history = build(prelim)
    late = rec("stage_changed", 1, stage="complaint_filed")
    result = integrate(history, late, POLICY)
    assert result.late and not result.stage_changed
    assert result.after.stage == "preliminary_investigation"
    assert [h["stage"] for h in result.after.stage_history] == ["complaint_filed", "preliminary_investigation"]


def test_late_update_that_would_invalidate_later_history_is_rejected():
    history = build(
        rec("stage_changed", 0, stage="preliminary_investigation"),
        rec("stage_changed", 10, stage="preparatory_investigation"),
    )
    # Archived on day 5 would make the day-10 formalisation illegal (no reopening in between).
    with pytest.raises(IllegalUpdate, match="would make that one illegal"):
        integrate(history, rec("case_archived", 5, reason="insufficient_evidence"), POLICY)


def test_out_of_order_arrival_of_a_full_sequence_ends_in_the_same_state():
    a = rec("stage_changed", 0, stage="complaint_filed")
    b = rec("stage_changed", 3, stage="preliminary_investigation")
    c = rec("hearing_scheduled", 4, hearing_id="h1", scheduled_for=(T0 + timedelta(days=20)).isoformat())
    d = rec("hearing_held", 20, hearing_id="h1")
    in_order = replay(build(a, b, c, d), POLICY)
    shuffled = replay(build(a, d, c, b), POLICY)
    assert shuffled.stage == in_order.stage == "preliminary_investigation"
    assert shuffled.stage_started_at == in_order.stage_started_at
    assert shuffled.hearings["h1"].status == "held"


def test_archive_from_any_stage_and_reopen_returns_to_previous_stage():
    for stage_path in (
        ["complaint_filed"],
        ["preliminary_investigation", "preparatory_investigation"],
        ["preliminary_investigation", "intermediate_stage", "trial"],
    ):
        records = [rec("stage_changed", i, stage=s) for i, s in enumerate(stage_path)]
        history = build(*records)
        archived = integrate(history, archive := rec("case_archived", 50, reason="insufficient_evidence"), POLICY)
        assert archived.stage_changed and archived.after.stage == "archived"
        assert archived.after.deadline is None
        history.append(archive)
        reopened = integrate(history, rec("case_reopened", 60, reason="new_evidence"), POLICY)
        assert reopened.after.stage == stage_path[-1]
        assert reopened.after.stage_started_at == T0 + timedelta(days=60)


def test_reopen_into_a_stated_stage_and_not_into_final():
    history = build(
        rec("stage_changed", 0, stage="preliminary_investigation"),
        rec("case_archived", 1, reason="no_crime"),
    )
    assert integrate(history, rec("case_reopened", 2, stage="complaint_filed"), POLICY).after.stage == (
        "complaint_filed"
    )
    with pytest.raises(IllegalUpdate, match="reopened into final"):
        integrate(history, rec("case_reopened", 2, stage="final"), POLICY)


def test_archive_twice_and_reopen_open_case_are_refused():
    history = build(rec("stage_changed", 0, stage="complaint_filed"))
    with pytest.raises(IllegalUpdate, match="needs an archived case"):
        integrate(history, rec("case_reopened", 1), POLICY)
    history = build(*history, rec("case_archived", 2, reason="no_crime"))
    with pytest.raises(IllegalUpdate, match="already archived"):
        integrate(history, rec("case_archived", 3, reason="no_crime"), POLICY)


def test_stage_change_while_archived_needs_reopening():
    history = build(rec("stage_changed", 0, stage="complaint_filed"), rec("case_archived", 1, reason="no_crime"))
    with pytest.raises(IllegalUpdate, match="case_reopened"):
        integrate(history, rec("stage_changed", 2, stage="preliminary_investigation"), POLICY)


def _to_trial() -> list[Recorded]:
    return build(
        rec("stage_changed", 0, stage="preliminary_investigation"),
        rec("stage_changed", 1, stage="intermediate_stage"),
        rec("stage_changed", 2, stage="trial"),
    )


def test_verdict_moves_trial_to_verdict_and_appeal_to_appeal():
    history = _to_trial()
    verdict = rec("verdict_issued", 10, outcome="conviction")
    result = integrate(history, verdict, POLICY)
    assert result.stage_changed and result.after.stage == "verdict"
    history.append(verdict)
    appeal = rec("appeal_filed", 12)
    result = integrate(history, appeal, POLICY)
    assert result.after.stage == "appeal"
    history.append(appeal)
    # the appeal court's ruling keeps the stage
    second = integrate(history, rec("verdict_issued", 40, outcome="acquittal"), POLICY)
    assert not second.stage_changed and len(second.after.verdicts) == 2


def test_verdict_before_trial_and_appeal_before_verdict_are_refused():
    history = build(rec("stage_changed", 0, stage="preliminary_investigation"))
    with pytest.raises(IllegalUpdate, match="verdict_issued needs a trial"):
        integrate(history, rec("verdict_issued", 1, outcome="conviction"), POLICY)
    with pytest.raises(IllegalUpdate, match="appeal_filed needs a verdict"):
        integrate(history, rec("appeal_filed", 1), POLICY)


def test_postponements_are_counted_per_stage():
    history = _to_trial()
    for i in range(3):
        p = rec("hearing_postponed", 3 + i, hearing_id="h1", reason="judge_absent")
        result = integrate(history, p, POLICY)
        assert result.after.postponement_counts[p.key] == i + 1
        history.append(p)
    verdict = rec("verdict_issued", 20, outcome="conviction")
    history.append(verdict)
    p = rec("hearing_postponed", 21, hearing_id="h2", reason="defence_absent")
    assert integrate(history, p, POLICY).after.postponement_counts[p.key] == 1


def test_hearing_lifecycle_and_closed_case():
    history = _to_trial()
    history = [
        *history,
        rec("hearing_scheduled", 3, hearing_id="h1", scheduled_for=(T0 + timedelta(days=9)).isoformat()),
        rec(
            "hearing_postponed",
            4,
            hearing_id="h1",
            reason="witness_absent",
            new_date=(T0 + timedelta(days=15)).isoformat(),
        ),
        rec("victim_absent", 15, hearing_id="h1"),
        rec("hearing_held", 15, hearing_id="h1"),
    ]
    state = replay(history, POLICY)
    h1 = state.hearings["h1"]
    assert h1.status == "held" and h1.scheduled_for == T0 + timedelta(days=15) and h1.victim == "absent"
    assert len(h1.postponements) == 1
    with pytest.raises(IllegalUpdate, match="already reported as held"):
        integrate(history, rec("hearing_held", 16, hearing_id="h1"), POLICY)
    with pytest.raises(IllegalUpdate, match="cannot be postponed"):
        integrate(history, rec("hearing_postponed", 16, hearing_id="h1", reason="x"), POLICY)
    archived = [*history, rec("case_archived", 30, reason="no_crime")]
    with pytest.raises(IllegalUpdate, match="while the case is archived"):
        integrate(archived, rec("hearing_scheduled", 31, hearing_id="h2", scheduled_for=T0.isoformat()), POLICY)
    # notifying the child about the archive is exactly what must still be possible
    assert integrate(archived, rec("victim_notified", 31, about="archive"), POLICY).after.notifications


def test_records_everything_else():
    history = build(
        rec("stage_changed", 0, stage="preliminary_investigation"),
        rec("legal_representation_assigned", 1, representative_ref="dp-1"),
        rec("protective_measure_granted", 2, measure="restraining_order"),
        rec("victim_attended", 3, hearing_id="h9"),
        rec("reparation_ordered", 4, amount=1000, currency="PEN"),
        rec("reparation_paid", 5, amount=500, currency="PEN"),
    )
    state = replay(history, POLICY)
    assert state.representation[0]["representative_ref"] == "dp-1"
    assert state.measures[0]["measure"] == "restraining_order"
    assert state.attendance[0]["attended"] is True
    assert state.reparations_ordered[0]["amount"] == 1000 and state.reparations_paid[0]["amount"] == 500
    assert state.last_activity_at == T0 + timedelta(days=5)


def test_final_is_closed():
    history = _to_trial()
    history = [*history, rec("verdict_issued", 5, outcome="acquittal"), rec("stage_changed", 6, stage="final")]
    state = replay(history, POLICY)
    assert state.stage == "final" and not state.is_open and state.deadline is None


def test_replay_skips_history_illegal_under_current_rules():
    bad = rec("stage_changed", 0, stage="trial")
    good = rec("victim_notified", 1)
    state = replay([bad, good], POLICY)
    assert state.skipped == [bad.key] and state.stage is None and len(state.entries) == 1
