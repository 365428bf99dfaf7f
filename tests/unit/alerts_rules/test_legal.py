"""legal.* rules at, just before and just after each threshold, their auto-resolution and new episodes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.processor.domain.engine import alert_id
from shared.events.alerts import alert_id_for
from tests.unit.alerts_rules.support import (
    DAY,
    T0,
    US,
    Case,
    assert_boundary,
    assert_clears_and_recurs,
    assert_duplicate_ignored,
    edited,
    only,
    registered_with,
    wrap,
)

# -- legal.stage_overdue ------------------------------------------------------------------------

STAGE = "legal.stage_overdue"
PRELIM_DEADLINE = T0 + 60 * DAY  # art. 334: 60 days, as the legal service computes it


_stage_overdue = registered_with(
    PRELIM_DEADLINE, lambda c: c.stage_changed("preliminary_investigation", T0, PRELIM_DEADLINE)
)


def test_stage_overdue_boundary():
    assert_boundary(_stage_overdue, STAGE)


def test_stage_overdue_grace_from_policy_moves_the_threshold():
    # grace waits for a late court update
    assert_boundary(lambda: _stage_overdue(edited(STAGE, grace="1d"), DAY), STAGE)


def test_stage_overdue_next_due_is_the_deadline():
    c = Case(only(STAGE))
    assert c.feed(c.registered(T0), T0).next_due is None
    out = c.feed(c.stage_changed("preliminary_investigation", T0, PRELIM_DEADLINE), T0)
    assert out.next_due == PRELIM_DEADLINE
    c2 = Case(only(STAGE, grace="6h"))
    out = c2.feed(c2.stage_changed("preliminary_investigation", T0, PRELIM_DEADLINE), T0)
    assert out.next_due == PRELIM_DEADLINE + timedelta(hours=6)


def test_stage_overdue_clears_on_stage_change_and_recurs_in_the_next_stage():
    c, deadline = _stage_overdue()
    c.assert_raised(c.tick(deadline), STAGE, 1, deadline)
    t = deadline + 3 * DAY
    new_deadline = t + 120 * DAY
    out = c.feed(c.stage_changed("preparatory_investigation", t, new_deadline, "preliminary_investigation"), t)
    c.assert_resolved(out, STAGE, 1, t, reason="court update arrived: stage changed or deadline moved")
    c.assert_quiet(c.tick(new_deadline - US), STAGE)
    p2 = c.assert_raised(c.tick(new_deadline), STAGE, 2, new_deadline)
    assert p2.alert_id != alert_id_for(c.case_id, STAGE, 1)
    assert p2.evidence["stage"] == "preparatory_investigation"


def test_stage_overdue_clears_when_the_deadline_is_extended():
    c, deadline = _stage_overdue()
    c.assert_raised(c.tick(deadline + DAY), STAGE, 1, deadline + DAY)
    t = deadline + 2 * DAY
    out = c.feed(c.stage_changed("preliminary_investigation", T0, deadline + 60 * DAY), t)
    c.assert_resolved(out, STAGE, 1, t)


def test_stage_overdue_clears_when_the_prosecution_ends():
    c, deadline = _stage_overdue()
    c.assert_raised(c.tick(deadline), STAGE, 1, deadline)
    t = deadline + DAY
    c.assert_resolved(c.feed(c.archived(t), t), STAGE, 1, t, reason="prosecution ended")
    c.assert_quiet(c.tick(t + 365 * DAY), STAGE)


def test_stage_overdue_duplicate_events_change_nothing():
    c = Case()
    c.feed(c.registered(T0), T0)
    opening = wrap(c.stage_changed("preliminary_investigation", T0, PRELIM_DEADLINE), at=T0)
    c.feed(opening, T0)
    assert_duplicate_ignored(c, opening, T0 + DAY)
    c.assert_raised(c.tick(PRELIM_DEADLINE), STAGE, 1, PRELIM_DEADLINE)
    t = PRELIM_DEADLINE + DAY
    moving = wrap(c.stage_changed("preparatory_investigation", t, t + 120 * DAY), at=t)
    c.assert_resolved(c.feed(moving, t), STAGE, 1, t)
    # a replay of the event that opened the overdue stage must not re-open the alert
    assert_duplicate_ignored(c, opening, t + DAY)
    assert_duplicate_ignored(c, moving, t + DAY)
    assert not c.is_open(STAGE)


# -- legal.no_activity --------------------------------------------------------------------------

NO_ACT = "legal.no_activity"


_no_activity = registered_with(T0 + 90 * DAY, lambda c: c.stage_changed("preparatory_investigation", T0))


def test_no_activity_boundary():
    assert_boundary(_no_activity, NO_ACT)


def test_no_activity_next_due_is_90_days_after_the_last_legal_event():
    c = Case(only(NO_ACT))
    # no court update yet: counted from the registration (issue 13 item 12)
    assert c.feed(c.registered(T0), T0).next_due == T0 + 90 * DAY
    assert c.feed(c.stage_changed("trial", T0), T0).next_due == T0 + 90 * DAY
    t = T0 + 10 * DAY
    assert c.feed(c.hearing_held("h-1", t), t).next_due == t + 90 * DAY


def test_no_activity_clears_on_a_court_update_and_recurs_90_days_later():
    c, due = _no_activity()
    t = due + 5 * DAY
    update = c.hearing_scheduled("h-1", t + 30 * DAY, t)
    assert_clears_and_recurs(c, NO_ACT, due, update, t, 90 * DAY, reason="court update arrived")


def test_no_activity_a_late_report_of_older_activity_does_not_clear():
    c, due = _no_activity()
    c.assert_raised(c.tick(due), NO_ACT, 1, due)
    late = c.hearing_held("h-0", T0 - DAY)  # happened before the last known legal event
    c.assert_quiet(c.feed(late, due + DAY), NO_ACT)
    assert c.is_open(NO_ACT)


def test_no_activity_clears_when_the_prosecution_ends():
    c, due = _no_activity()
    c.assert_raised(c.tick(due), NO_ACT, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.stage_changed("final", t), t), NO_ACT, 1, t, reason="prosecution ended")
    c.assert_quiet(c.tick(t + 365 * DAY), NO_ACT)


def test_no_activity_fires_from_registration_when_no_court_update_ever_arrived():
    # issue 13 item 12: it never fired for a case that never received a court update
    c = Case()
    c.feed(c.registered(T0), T0)
    c.assert_quiet(c.tick(T0 + 90 * DAY - US), NO_ACT)
    p = c.assert_raised(c.tick(T0 + 90 * DAY), NO_ACT, 1, T0 + 90 * DAY)
    assert p.evidence["counted_from"] == "registration"
    t = T0 + 100 * DAY
    c.assert_resolved(c.feed(c.stage_changed("complaint_filed", t), t), NO_ACT, 1, t, reason="court update arrived")
    c.assert_quiet(c.tick(t + 90 * DAY - US), NO_ACT)
    c.assert_raised(c.tick(t + 90 * DAY), NO_ACT, 2, t + 90 * DAY)


def test_no_activity_duplicate_events_change_nothing():
    c, due = _no_activity()
    t = due + DAY
    # the same update replayed later must not count as fresh activity
    assert_clears_and_recurs(c, NO_ACT, due, wrap(c.hearing_held("h-1", t), at=t), t, 90 * DAY, replayed=True)


# -- legal.hearing_postponed_repeatedly ---------------------------------------------------------

POSTPONED = "legal.hearing_postponed_repeatedly"


def _postponed_twice(policy=None):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("intermediate_stage", T0), T0)
    for n in (1, 2):
        t = T0 + n * 10 * DAY
        c.assert_quiet(c.feed(c.hearing_postponed("h-1", n, t, new_date=t + 10 * DAY), t), POSTPONED)
    return c


def test_postponed_fires_on_the_third_postponement_not_the_second():
    c = _postponed_twice()  # count - 1 = 2 postponements: nothing
    t = T0 + 30 * DAY
    out = c.feed(c.hearing_postponed("h-1", 3, t, new_date=t + 10 * DAY), t)
    p = c.assert_raised(out, POSTPONED, 1, t)
    assert p.evidence["postponements_in_stage"] == 3
    assert p.evidence["threshold"] == 3
    c.assert_quiet(c.tick(t + US), POSTPONED)
    c.assert_quiet(c.tick(t + 300 * DAY), POSTPONED)
    t4 = t + 10 * DAY
    c.assert_quiet(c.feed(c.hearing_postponed("h-1", 4, t4, new_date=t4 + 9 * DAY), t4), POSTPONED)
    assert c.is_open(POSTPONED)


def test_postponed_count_comes_from_the_policy():
    policy = edited(POSTPONED, count=2)
    c = Case(policy)
    c.feed(c.stage_changed("trial", T0), T0)
    c.assert_quiet(c.feed(c.hearing_postponed("h-1", 1, T0, new_date=T0 + DAY), T0), POSTPONED)
    c.assert_raised(
        c.feed(c.hearing_postponed("h-1", 2, T0 + DAY, new_date=T0 + 5 * DAY), T0 + DAY), POSTPONED, 1, T0 + DAY
    )


def test_postponed_has_no_deadline():
    c = Case(only(POSTPONED))
    c.feed(c.stage_changed("trial", T0), T0)
    assert c.feed(c.hearing_postponed("h-1", 1, T0, new_date=T0 + DAY), T0).next_due is None


def test_postponed_clears_on_stage_change_and_recurs_in_the_new_stage():
    c = _postponed_twice()
    t = T0 + 30 * DAY
    c.assert_raised(c.feed(c.hearing_postponed("h-1", 3, t, new_date=t + DAY), t), POSTPONED, 1, t)
    t2 = t + 5 * DAY
    out = c.feed(c.stage_changed("trial", t2, previous="intermediate_stage"), t2)
    c.assert_resolved(out, POSTPONED, 1, t2, reason="stage changed")
    for n in (1, 2):
        tn = t2 + n * DAY
        c.assert_quiet(c.feed(c.hearing_postponed("h-9", n, tn, new_date=tn + DAY, stage="trial"), tn), POSTPONED)
    t3 = t2 + 3 * DAY
    out = c.feed(c.hearing_postponed("h-9", 3, t3, new_date=t3 + DAY, stage="trial"), t3)
    p2 = c.assert_raised(out, POSTPONED, 2, t3)
    assert p2.alert_id != alert_id_for(c.case_id, POSTPONED, 1)


def test_postponed_of_another_stage_does_not_count():
    c = _postponed_twice()
    t = T0 + 30 * DAY
    stale = c.hearing_postponed("h-1", 3, t, new_date=t + DAY, stage="preliminary_investigation")
    c.assert_quiet(c.feed(stale, t), POSTPONED)


def test_postponed_duplicate_events_change_nothing():
    c = _postponed_twice()
    t = T0 + 30 * DAY
    third = wrap(c.hearing_postponed("h-1", 3, t, new_date=t + DAY), at=t)
    c.assert_raised(c.feed(third, t), POSTPONED, 1, t)
    assert_duplicate_ignored(c, third, t + DAY)
    t2 = t + 2 * DAY
    c.assert_resolved(c.feed(c.stage_changed("trial", t2), t2), POSTPONED, 1, t2)
    # replaying the third postponement after the stage moved on must not re-open it
    assert_duplicate_ignored(c, third, t2 + DAY)
    assert not c.is_open(POSTPONED)


# -- legal.hearing_outcome_missing --------------------------------------------------------------

OUTCOME = "legal.hearing_outcome_missing"
HEARING_AT = T0 + 20 * DAY


def _hearing(policy=None):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("trial", T0), T0)
    c.feed(c.hearing_scheduled("h-1", HEARING_AT, T0 + DAY), T0 + DAY)
    return c, HEARING_AT + 2 * DAY


def test_hearing_outcome_missing_boundary():
    assert_boundary(_hearing, OUTCOME)


def test_hearing_outcome_missing_next_due_is_two_days_after_the_hearing():
    c = Case(only(OUTCOME))
    out = c.feed(c.hearing_scheduled("h-1", HEARING_AT, T0), T0)
    assert out.next_due == HEARING_AT + 2 * DAY
    out = c.feed(c.hearing_scheduled("h-0", HEARING_AT - 5 * DAY, T0), T0)
    assert out.next_due == HEARING_AT - 3 * DAY  # the earliest hearing first
    # once h-0 is overdue the next deadline is h-1's
    assert c.tick(HEARING_AT - 3 * DAY).next_due == HEARING_AT + 2 * DAY


@pytest.mark.parametrize("outcome", ["held", "victim_attended", "victim_absent", "postponed_without_date"])
def test_hearing_outcome_missing_clears_when_the_outcome_arrives(outcome):
    c, due = _hearing()
    c.assert_raised(c.tick(due), OUTCOME, 1, due)
    t = due + DAY
    report = {
        "held": c.hearing_held("h-1", HEARING_AT),
        "victim_attended": c.victim_attended(HEARING_AT, hearing_id="h-1"),
        "victim_absent": c.victim_absent(HEARING_AT, hearing_id="h-1"),
        "postponed_without_date": c.hearing_postponed("h-1", 1, HEARING_AT),
    }[outcome]
    c.assert_resolved(c.feed(report, t), OUTCOME, 1, t, reason="hearing outcome reported")
    c.assert_quiet(c.tick(t + 365 * DAY), OUTCOME)


def test_hearing_outcome_missing_postponed_to_a_new_date_clears_then_recurs():
    c, due = _hearing()
    c.assert_raised(c.tick(due), OUTCOME, 1, due)
    t = due + DAY
    new_date = t + 14 * DAY
    out = c.feed(c.hearing_postponed("h-1", 1, t, new_date=new_date), t)
    c.assert_resolved(out, OUTCOME, 1, t)
    c.assert_quiet(c.tick(new_date + 2 * DAY - US), OUTCOME)
    p2 = c.assert_raised(c.tick(new_date + 2 * DAY), OUTCOME, 2, new_date + 2 * DAY)
    assert p2.alert_id != alert_id_for(c.case_id, OUTCOME, 1)


def test_hearing_outcome_missing_recurs_for_the_next_hearing():
    c, due = _hearing()
    c.assert_raised(c.tick(due), OUTCOME, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.hearing_held("h-1", HEARING_AT), t), OUTCOME, 1, t)
    second = t + 30 * DAY
    c.feed(c.hearing_scheduled("h-2", second, t), t)
    c.assert_quiet(c.tick(second + 2 * DAY - US), OUTCOME)
    # the next hearing is its own alert (issue 13 item 7)
    p = c.assert_raised(c.tick(second + 2 * DAY), OUTCOME, 1, second + 2 * DAY)
    assert p.evidence["subject"] == "hearing:h-2"


def test_hearing_outcome_missing_one_alert_per_hearing_each_with_its_own_resolution():
    # issue 13 item 7: reporting one hearing's outcome resolves that hearing's alert only
    c, due = _hearing()
    c.feed(c.hearing_scheduled("h-2", HEARING_AT, T0 + DAY), T0 + DAY)
    out = c.tick(due)
    assert sorted(p.evidence["subject"] for p in out.raised(OUTCOME)) == ["hearing:h-1", "hearing:h-2"]
    out = c.feed(c.hearing_held("h-1", HEARING_AT), due + DAY)
    c.assert_resolved(out, OUTCOME, 1, due + DAY)
    assert out.resolved(OUTCOME)[0].alert_id == alert_id(c.case_id, OUTCOME, "hearing:h-1", 1)
    assert c.is_open(OUTCOME, "hearing:h-2") and not c.is_open(OUTCOME, "hearing:h-1")
    out = c.feed(c.hearing_held("h-2", HEARING_AT), due + 2 * DAY)
    c.assert_resolved(out, OUTCOME, 1, due + 2 * DAY)
    assert out.resolved(OUTCOME)[0].alert_id == alert_id(c.case_id, OUTCOME, "hearing:h-2", 1)


def test_hearing_outcome_missing_duplicate_events_change_nothing():
    c = Case()
    scheduled = wrap(c.hearing_scheduled("h-1", HEARING_AT, T0), at=T0)
    c.feed(scheduled, T0)
    assert_duplicate_ignored(c, scheduled, T0 + DAY)
    due = HEARING_AT + 2 * DAY
    c.assert_raised(c.tick(due), OUTCOME, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.hearing_held("h-1", HEARING_AT), t), OUTCOME, 1, t)
    assert_duplicate_ignored(c, scheduled, t + DAY)
    # the same schedule re-published under a new event id after the outcome: still done
    c.assert_quiet(c.feed(c.hearing_scheduled("h-1", HEARING_AT, T0), t + DAY), OUTCOME)
    c.assert_quiet(c.tick(t + 30 * DAY), OUTCOME)


# -- legal.no_representation --------------------------------------------------------------------

NO_REP = "legal.no_representation"


_unrepresented = registered_with(T0 + 7 * DAY)


def test_no_representation_boundary():
    assert_boundary(_unrepresented, NO_REP)


def test_no_representation_next_due_is_seven_days_after_registration():
    c = Case(only(NO_REP))
    assert c.feed(c.registered(T0), T0).next_due == T0 + 7 * DAY
    t = T0 + 2 * DAY
    assert c.feed(c.representation_assigned(t), t).next_due is None


def test_no_representation_clears_when_assigned():
    c, due = _unrepresented()
    c.assert_raised(c.tick(due), NO_REP, 1, due)
    t = due + DAY
    out = c.feed(c.representation_assigned(t), t)
    c.assert_resolved(out, NO_REP, 1, t, reason="legal representation assigned")
    c.assert_quiet(c.tick(t + 365 * DAY), NO_REP)


def test_no_representation_recurs_when_a_closed_case_reopens_unrepresented():
    # no event withdraws a representation, so the condition can only come back through the case reopening
    c, due = _unrepresented()
    c.assert_raised(c.tick(due), NO_REP, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.closed(t), t), NO_REP, 1, t, reason="case closed")
    t2 = t + 10 * DAY
    p2 = c.assert_raised(c.feed(c.status_changed("Closed", "Active", t2), t2), NO_REP, 2, t2)
    assert p2.alert_id != alert_id_for(c.case_id, NO_REP, 1)


def test_no_representation_assigned_before_registration_arrives_never_fires():
    c = Case()
    c.feed(c.representation_assigned(T0 - DAY), T0 - DAY)  # legal-events may overtake case-events
    c.feed(c.registered(T0), T0)
    c.assert_quiet(c.tick(T0 + 30 * DAY), NO_REP)


def test_no_representation_duplicate_events_change_nothing():
    c = Case()
    registration = wrap(c.registered(T0), at=T0)
    c.feed(registration, T0)
    due = T0 + 7 * DAY
    c.assert_raised(c.tick(due), NO_REP, 1, due)
    assert_duplicate_ignored(c, registration, due + DAY)
    assigned = wrap(c.representation_assigned(due + DAY), at=due + DAY)
    c.assert_resolved(c.feed(assigned, due + DAY), NO_REP, 1, due + DAY)
    assert_duplicate_ignored(c, assigned, due + 2 * DAY)
    assert_duplicate_ignored(c, registration, due + 2 * DAY)
    assert not c.is_open(NO_REP)


# -- legal.victim_not_notified ------------------------------------------------------------------

NOTIFY = "legal.victim_not_notified"
DECIDED_AT = T0 + 100 * DAY
TRIGGERS = ["archived", "verdict_issued", "stage_verdict"]


def _trigger(c, which, at):
    return {
        "archived": lambda: c.archived(at),
        "verdict_issued": lambda: c.verdict_issued(at),
        "stage_verdict": lambda: c.stage_changed("verdict", at, previous="trial"),
    }[which]()


def _decided(which):
    def setup():
        c = Case()
        c.feed(c.registered(T0), T0)
        c.feed(c.stage_changed("trial", T0), T0)
        c.feed(_trigger(c, which, DECIDED_AT), DECIDED_AT)
        return c, DECIDED_AT + 5 * DAY

    return setup


@pytest.mark.parametrize("which", TRIGGERS)
def test_victim_not_notified_boundary(which):
    assert_boundary(_decided(which), NOTIFY)


@pytest.mark.parametrize("which", TRIGGERS)
def test_victim_not_notified_next_due_is_five_days_after_the_decision(which):
    c = Case(only(NOTIFY))
    c.feed(c.stage_changed("trial", T0), T0)
    assert c.feed(_trigger(c, which, DECIDED_AT), DECIDED_AT).next_due == DECIDED_AT + 5 * DAY
    t = DECIDED_AT + DAY
    assert c.feed(c.victim_notified(t), t).next_due is None


@pytest.mark.parametrize("which", TRIGGERS)
def test_victim_not_notified_clears_on_notification(which):
    c, due = _decided(which)()
    c.assert_raised(c.tick(due), NOTIFY, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.victim_notified(t), t), NOTIFY, 1, t, reason="victim notified")
    c.assert_quiet(c.tick(t + 365 * DAY), NOTIFY)


def test_victim_not_notified_recurs_on_the_next_archive():
    c, due = _decided("archived")()
    c.assert_raised(c.tick(due), NOTIFY, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.victim_notified(t), t), NOTIFY, 1, t)
    c.feed(c.reopened(t + 30 * DAY), t + 30 * DAY)
    again = t + 200 * DAY
    c.assert_quiet(c.feed(c.archived(again), again), NOTIFY)
    c.assert_quiet(c.tick(again + 5 * DAY - US), NOTIFY)
    # one alert per decision (issue 13 item 7): the second archive is episode 1 of its own subject
    p2 = c.assert_raised(c.tick(again + 5 * DAY), NOTIFY, 1, again + 5 * DAY)
    assert p2.alert_id != alert_id_for(c.case_id, NOTIFY, 1)
    assert p2.evidence["trigger"] == "archived"


def test_victim_not_notified_in_time_never_fires():
    c, due = _decided("verdict_issued")()
    c.feed(c.victim_notified(due - DAY), due - DAY)
    c.assert_quiet(c.tick(due), NOTIFY)
    c.assert_quiet(c.tick(due + 100 * DAY), NOTIFY)


def test_victim_not_notified_duplicate_events_change_nothing():
    c = Case()
    c.feed(c.stage_changed("trial", T0), T0)
    archive = wrap(c.archived(DECIDED_AT), at=DECIDED_AT)
    c.feed(archive, DECIDED_AT)
    due = DECIDED_AT + 5 * DAY
    c.assert_raised(c.tick(due), NOTIFY, 1, due)
    notified = wrap(c.victim_notified(due + DAY), at=due + DAY)
    c.assert_resolved(c.feed(notified, due + DAY), NOTIFY, 1, due + DAY)
    # the archive replayed must not start a new notification clock
    assert_duplicate_ignored(c, archive, due + 2 * DAY)
    assert_duplicate_ignored(c, notified, due + 2 * DAY)
    c.assert_quiet(c.tick(due + 30 * DAY), NOTIFY)


# -- legal.victim_absent ------------------------------------------------------------------------

ABSENT = "legal.victim_absent"


def _absent_once(policy=None):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("trial", T0), T0)
    t = T0 + 10 * DAY
    c.assert_quiet(c.feed(c.victim_absent(t, "h-1"), t), ABSENT)  # count - 1: nothing
    return c


def test_victim_absent_fires_on_the_second_absence_in_a_row():
    c = _absent_once()
    t = T0 + 20 * DAY
    p = c.assert_raised(c.feed(c.victim_absent(t, "h-2"), t), ABSENT, 1, t)
    assert p.evidence["consecutive_absences"] == 2
    assert len(p.evidence["event_ids"]) == 2
    c.assert_quiet(c.tick(t + US), ABSENT)
    c.assert_quiet(c.feed(c.victim_absent(t + DAY, "h-3"), t + DAY), ABSENT)
    c.assert_quiet(c.tick(t + 300 * DAY), ABSENT)
    assert c.is_open(ABSENT)


def test_victim_absent_an_attendance_in_between_breaks_the_row():
    c = _absent_once()
    c.feed(c.victim_attended(T0 + 15 * DAY, "h-x"), T0 + 15 * DAY)
    c.assert_quiet(c.feed(c.victim_absent(T0 + 20 * DAY, "h-2"), T0 + 20 * DAY), ABSENT)


def test_victim_absent_count_comes_from_the_policy():
    c = _absent_once(edited(ABSENT, count=3))
    c.assert_quiet(c.feed(c.victim_absent(T0 + 20 * DAY), T0 + 20 * DAY), ABSENT)
    c.assert_raised(c.feed(c.victim_absent(T0 + 30 * DAY), T0 + 30 * DAY), ABSENT, 1, T0 + 30 * DAY)


def test_victim_absent_has_no_deadline():
    c = Case(only(ABSENT))
    assert c.feed(c.victim_absent(T0), T0).next_due is None


def test_victim_absent_clears_when_the_child_attends_and_recurs():
    c = _absent_once()
    t = T0 + 20 * DAY
    c.assert_raised(c.feed(c.victim_absent(t, "h-2"), t), ABSENT, 1, t)
    t2 = t + 10 * DAY
    out = c.feed(c.victim_attended(t2, "h-3"), t2)
    c.assert_resolved(out, ABSENT, 1, t2, reason="child attended a hearing")
    c.assert_quiet(c.feed(c.victim_absent(t2 + DAY, "h-4"), t2 + DAY), ABSENT)
    p2 = c.assert_raised(c.feed(c.victim_absent(t2 + 2 * DAY, "h-5"), t2 + 2 * DAY), ABSENT, 2, t2 + 2 * DAY)
    assert p2.alert_id != alert_id_for(c.case_id, ABSENT, 1)


def test_victim_absent_duplicate_absence_counts_once():
    c = Case()
    absence = wrap(c.victim_absent(T0, "h-1"), at=T0)
    c.feed(absence, T0)
    assert_duplicate_ignored(c, absence, T0 + DAY)
    c.assert_quiet(c.tick(T0 + 2 * DAY), ABSENT)
    assert c.state is not None and c.state.consecutive_absences == 1


def test_victim_absent_is_not_resolved_by_a_stage_change():
    c = _absent_once()
    t = T0 + 20 * DAY
    c.assert_raised(c.feed(c.victim_absent(t, "h-2"), t), ABSENT, 1, t)
    t2 = t + 5 * DAY
    out = c.feed(c.stage_changed("verdict", t2, previous="trial"), t2)
    # the child attended nothing: the abandonment risk is still there
    c.assert_quiet(out, ABSENT)
    assert c.is_open(ABSENT)


@pytest.mark.parametrize("which", TRIGGERS)
def test_victim_not_notified_an_older_notification_arriving_late_does_not_answer_the_decision(which):
    c, due = _decided(which)()
    # a notification about something before the decision, delivered after it
    c.assert_quiet(c.feed(c.victim_notified(DECIDED_AT - DAY), DECIDED_AT + DAY), NOTIFY)
    c.assert_quiet(c.tick(due - US), NOTIFY)
    c.assert_raised(c.tick(due), NOTIFY, 1, due)


@pytest.mark.parametrize("which", TRIGGERS)
def test_victim_not_notified_a_later_notification_arriving_first_answers_the_decision(which):
    c = Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("trial", T0), T0)
    # out of order: the notification (after the decision) is delivered before the decision itself
    c.feed(c.victim_notified(DECIDED_AT + DAY), DECIDED_AT + DAY)
    c.assert_quiet(c.feed(_trigger(c, which, DECIDED_AT), DECIDED_AT + DAY), NOTIFY)
    c.assert_quiet(c.tick(DECIDED_AT + 100 * DAY), NOTIFY)
