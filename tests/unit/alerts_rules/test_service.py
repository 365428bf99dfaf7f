"""service.* rules at, just before and just after each threshold, their auto-resolution and new episodes."""

from __future__ import annotations

from datetime import timedelta

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

# -- service.overdue ----------------------------------------------------------------------------

OVERDUE = "service.overdue"
FIRST_DUE = T0 + 10 * DAY


def _planned(policy=None, **plan):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("svc-1", FIRST_DUE, **plan), T0)
    return c, FIRST_DUE + 2 * DAY


def test_service_overdue_boundary():
    assert_boundary(_planned, OVERDUE)


def test_service_overdue_after_comes_from_the_policy():
    assert_boundary(lambda: (_planned(edited(OVERDUE, after="12h"))[0], FIRST_DUE + timedelta(hours=12)), OVERDUE)


def test_service_overdue_next_due_follows_the_plan():
    c = Case(only(OVERDUE))
    c.feed(c.registered(T0), T0)
    assert c.feed(c.service_planned("svc-1", FIRST_DUE, interval_days=7), T0).next_due == FIRST_DUE + 2 * DAY
    t = FIRST_DUE
    # session 1 recorded: session 2 is due a week after the first due date
    assert c.feed(c.session("svc-1", "attended", t), t).next_due == FIRST_DUE + 7 * DAY + 2 * DAY


def test_service_overdue_clears_when_the_session_is_recorded_and_recurs_for_the_next_one():
    c, due = _planned(interval_days=7)
    c.assert_raised(c.tick(due), OVERDUE, 1, due)
    t = due + DAY
    out = c.feed(c.session("svc-1", "attended", FIRST_DUE + DAY), t)
    c.assert_resolved(out, OVERDUE, 1, t, reason="session recorded")
    due2 = FIRST_DUE + 7 * DAY + 2 * DAY
    c.assert_quiet(c.tick(due2 - US), OVERDUE)
    p2 = c.assert_raised(c.tick(due2), OVERDUE, 2, due2)
    assert p2.alert_id != alert_id_for(c.case_id, OVERDUE, 1)
    assert p2.evidence["services"][0]["session"] == 2


def test_service_overdue_a_missed_session_is_still_a_recorded_one():
    c, due = _planned(interval_days=7)
    c.assert_raised(c.tick(due), OVERDUE, 1, due)
    c.assert_resolved(c.feed(c.session("svc-1", "missed", FIRST_DUE), due + DAY), OVERDUE, 1, due + DAY)


def test_service_overdue_complete_plan_has_no_more_deadlines():
    c = Case(only(OVERDUE))
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("svc-1", FIRST_DUE, interval_days=None, sessions_planned=1), T0)
    assert c.feed(c.session("svc-1", "attended", FIRST_DUE), FIRST_DUE).next_due is None
    c.assert_quiet(c.tick(FIRST_DUE + 400 * DAY), OVERDUE)


def test_service_overdue_clears_when_the_case_closes():
    c, due = _planned()
    c.assert_raised(c.tick(due), OVERDUE, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.closed(t), t), OVERDUE, 1, t, reason="case closed")


def test_service_overdue_duplicate_and_corrected_sessions_do_not_advance_the_plan():
    c, due = _planned(interval_days=7)
    session = wrap(c.session("svc-1", "attended", FIRST_DUE, session_id="ses-1"), at=FIRST_DUE)
    c.feed(session, FIRST_DUE)
    assert_duplicate_ignored(c, session, FIRST_DUE + DAY)
    # the same session corrected under a new event id: the plan does not advance either
    c.feed(c.session("svc-1", "attended", FIRST_DUE, session_id="ses-1"), FIRST_DUE + DAY)
    due2 = FIRST_DUE + 9 * DAY
    c.assert_quiet(c.tick(due2 - US), OVERDUE)
    c.assert_raised(c.tick(due2), OVERDUE, 1, due2)


# -- service.missed_consecutive -----------------------------------------------------------------

MISSED = "service.missed_consecutive"


def _missed_once(policy=None):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("svc-1", T0 + DAY), T0)
    c.assert_quiet(c.feed(c.session("svc-1", "missed", T0 + DAY), T0 + DAY), MISSED)  # count - 1
    return c


def test_missed_consecutive_fires_on_the_second_miss():
    c = _missed_once()
    t = T0 + 8 * DAY
    p = c.assert_raised(c.feed(c.session("svc-1", "missed", t), t), MISSED, 1, t)
    assert p.evidence["services"][0]["consecutive_missed"] == 2
    c.assert_quiet(c.tick(t + US), MISSED)
    third = c.feed(c.session("svc-1", "missed", t + 7 * DAY), t + 7 * DAY)
    c.assert_quiet(third, MISSED)
    # the open alert's summary follows its evidence (issue 18 item 2): a third miss, no second alert
    (u,) = c.updated(third, MISSED)
    assert u.evidence["services"][0]["consecutive_missed"] == 3 and "3 times" in u.summary
    c.assert_quiet(c.tick(t + 300 * DAY), MISSED)
    assert c.is_open(MISSED)


def test_missed_consecutive_count_comes_from_the_policy():
    c = _missed_once(edited(MISSED, count=3))
    c.assert_quiet(c.feed(c.session("svc-1", "missed", T0 + 8 * DAY), T0 + 8 * DAY), MISSED)
    c.assert_raised(c.feed(c.session("svc-1", "missed", T0 + 15 * DAY), T0 + 15 * DAY), MISSED, 1, T0 + 15 * DAY)


def test_missed_consecutive_counts_per_service():
    c = _missed_once()
    c.feed(c.service_planned("svc-2", T0 + DAY, kind="education", spl_type="Education"), T0)
    t = T0 + 8 * DAY
    c.assert_quiet(c.feed(c.session("svc-2", "missed", t, kind="education"), t), MISSED)


def test_missed_consecutive_a_cancelled_session_neither_counts_nor_breaks_the_row():
    c = _missed_once()
    c.assert_quiet(c.feed(c.session("svc-1", "cancelled", T0 + 8 * DAY), T0 + 8 * DAY), MISSED)
    c.assert_raised(c.feed(c.session("svc-1", "missed", T0 + 15 * DAY), T0 + 15 * DAY), MISSED, 1, T0 + 15 * DAY)


def test_missed_consecutive_has_no_deadline():
    c = Case(only(MISSED))
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("svc-1", T0 + DAY), T0)
    assert c.feed(c.session("svc-1", "missed", T0 + DAY), T0 + DAY).next_due is None


def test_missed_consecutive_clears_on_attendance_and_recurs():
    c = _missed_once()
    t = T0 + 8 * DAY
    c.assert_raised(c.feed(c.session("svc-1", "missed", t), t), MISSED, 1, t)
    t2 = t + 7 * DAY
    out = c.feed(c.session("svc-1", "attended", t2), t2)
    c.assert_resolved(out, MISSED, 1, t2, reason="session attended")
    c.assert_quiet(c.feed(c.session("svc-1", "missed", t2 + 7 * DAY), t2 + 7 * DAY), MISSED)
    t3 = t2 + 14 * DAY
    p2 = c.assert_raised(c.feed(c.session("svc-1", "missed", t3), t3), MISSED, 2, t3)
    assert p2.alert_id != alert_id_for(c.case_id, MISSED, 1)


def test_missed_consecutive_clears_when_the_case_closes():
    c = _missed_once()
    t = T0 + 8 * DAY
    c.assert_raised(c.feed(c.session("svc-1", "missed", t), t), MISSED, 1, t)
    c.assert_resolved(c.feed(c.closed(t + DAY), t + DAY), MISSED, 1, t + DAY, reason="case closed")


def test_missed_consecutive_duplicate_miss_counts_once():
    c = Case()
    c.feed(c.service_planned("svc-1", T0 + DAY), T0)
    miss = wrap(c.session("svc-1", "missed", T0 + DAY, session_id="ses-1"), at=T0 + DAY)
    c.feed(miss, T0 + DAY)
    assert_duplicate_ignored(c, miss, T0 + 2 * DAY)
    # and the same session re-sent under a new event id is a correction, not a second miss
    c.assert_quiet(c.feed(c.session("svc-1", "missed", T0 + DAY, session_id="ses-1"), T0 + 2 * DAY), MISSED)
    assert c.state is not None and c.state.services["svc-1"].consecutive_missed == 1


# -- service.no_psychosocial --------------------------------------------------------------------

PSY = "service.no_psychosocial"
PSY_KIND = "psychosocial_care"


_active = registered_with(
    T0 + 30 * DAY,
    lambda c: c.service_planned("psy-1", T0 + DAY, kind=PSY_KIND, spl_type="SocialCare", interval_days=None),
)


def test_no_psychosocial_boundary():
    assert_boundary(_active, PSY)


def test_no_psychosocial_next_due_is_30_days_after_the_last_session():
    c = Case(only(PSY))
    assert c.feed(c.registered(T0), T0).next_due == T0 + 30 * DAY
    t = T0 + 12 * DAY
    assert c.feed(c.session("psy-1", "attended", t, kind=PSY_KIND), t).next_due == t + 30 * DAY


def test_no_psychosocial_clears_on_a_psychosocial_session_and_recurs_30_days_later():
    c, due = _active()
    t = due + DAY
    session = c.session("psy-1", "attended", t, kind=PSY_KIND)
    assert_clears_and_recurs(c, PSY, due, session, t, 30 * DAY, reason="psychosocial session recorded")


def test_no_psychosocial_other_or_missed_sessions_do_not_clear():
    c, due = _active()
    c.assert_raised(c.tick(due), PSY, 1, due)
    c.feed(c.service_planned("svc-h", due, interval_days=None), due)
    c.assert_quiet(c.feed(c.session("svc-h", "attended", due + DAY), due + DAY), PSY)
    c.assert_quiet(c.feed(c.session("psy-1", "missed", due + DAY, kind=PSY_KIND), due + 2 * DAY), PSY)
    assert c.is_open(PSY)


def test_no_psychosocial_spl_types_from_the_policy_count():
    policy = edited(PSY, service_kinds=[], spl_types=["SocialCare"])
    c, due = _active(policy)
    c.assert_raised(c.tick(due), PSY, 1, due)
    # a session of a service planned under the SocialCare type counts, whatever its kind is called
    out = c.feed(c.session("psy-1", "attended", due + DAY, kind="workshop"), due + DAY)
    c.assert_resolved(out, PSY, 1, due + DAY)


def test_no_psychosocial_clears_when_the_case_is_no_longer_active():
    c, due = _active()
    c.assert_raised(c.tick(due), PSY, 1, due)
    t = due + DAY
    out = c.feed(c.status_changed("Active", "FollowUp", t), t)
    c.assert_resolved(out, PSY, 1, t, reason="case no longer active")


def test_no_psychosocial_duplicate_events_change_nothing():
    c, due = _active()
    t = due + DAY
    session = wrap(c.session("psy-1", "attended", t, kind=PSY_KIND), at=t)
    assert_clears_and_recurs(c, PSY, due, session, t, 30 * DAY, replayed=True)
