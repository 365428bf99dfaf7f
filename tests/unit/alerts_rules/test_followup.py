"""followup.* rules at, just before and just after each threshold, their auto-resolution and new episodes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.processor.domain.policy import parse_policy
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
    policy_doc,
    registered_with,
    wrap,
)

# -- followup.contact_lost ----------------------------------------------------------------------

LOST = "followup.contact_lost"


_registered = registered_with(T0 + 45 * DAY, lambda c: c.service_planned("svc-1", T0 + DAY))


def test_contact_lost_boundary():
    assert_boundary(_registered, LOST)


def test_contact_lost_next_due_is_45_days_after_the_last_contact():
    c = Case(only(LOST))
    assert c.feed(c.registered(T0), T0).next_due == T0 + 45 * DAY
    t = T0 + 20 * DAY
    assert c.feed(c.victim_attended(t, "h-1"), t).next_due == t + 45 * DAY


def _contact(c, which, t):
    return {
        "session_attended": lambda: c.session("svc-1", "attended", t),
        "followup_recorded": lambda: c.followup_recorded("fu-1", t.date(), t),
        "hearing_attended": lambda: c.victim_attended(t, "h-1"),
    }[which]()


@pytest.mark.parametrize("which", ["session_attended", "followup_recorded", "hearing_attended"])
def test_contact_lost_clears_on_contact_and_recurs_45_days_later(which):
    c, due = _registered()
    t = due + DAY
    assert_clears_and_recurs(c, LOST, due, _contact(c, which, t), t, 45 * DAY, reason="contact with the child recorded")


def test_contact_lost_a_missed_session_or_absence_is_no_contact():
    c, due = _registered()
    c.assert_raised(c.tick(due), LOST, 1, due)
    c.assert_quiet(c.feed(c.session("svc-1", "missed", due + DAY), due + DAY), LOST)
    c.assert_quiet(c.feed(c.victim_absent(due + DAY, "h-1"), due + DAY), LOST)
    assert c.is_open(LOST)


def test_contact_lost_clears_when_the_case_closes():
    c, due = _registered()
    c.assert_raised(c.tick(due), LOST, 1, due)
    c.assert_resolved(c.feed(c.closed(due + DAY), due + DAY), LOST, 1, due + DAY, reason="case closed")


def test_contact_lost_duplicate_events_change_nothing():
    c, due = _registered()
    t = due + DAY
    assert_clears_and_recurs(c, LOST, due, wrap(c.session("svc-1", "attended", t), at=t), t, 45 * DAY, replayed=True)


# -- followup.overdue (planned follow-ups) ------------------------------------------------------

OVERDUE = "followup.overdue"
PLANNED = date(2025, 4, 1)
# a date-only follow-up is on time until the end of that day in the organisation's time zone; these
# tests run with UTC as that zone (the Lima default is tested in test_issue13.py): the next midnight
PLANNED_DUE = datetime(2025, 4, 2, tzinfo=UTC)


def in_utc(policy=None):
    doc = policy_doc() if policy is None else None
    if doc is None:
        return policy
    doc["organisation"] = {"time_zone": "UTC"}
    return parse_policy(doc, source="<utc>")


def utc_edited(rule_id, **changes):
    doc = policy_doc()
    doc["organisation"] = {"time_zone": "UTC"}
    doc["rules"][rule_id].update(changes)
    return parse_policy(doc, source="<utc-edited>")


def utc_only(rule_id):
    doc = policy_doc()
    doc["organisation"] = {"time_zone": "UTC"}
    for rid in doc["rules"]:
        if rid != rule_id:
            doc["rules"][rid]["enabled"] = False
    return parse_policy(doc, source="<utc-only>")


_followup_planned = registered_with(PLANNED_DUE, lambda c: c.followup_planned("fu-1", PLANNED))


def _planned(policy=None):
    return _followup_planned(policy or in_utc())


def test_followup_overdue_boundary():
    assert_boundary(_planned, OVERDUE)


def test_followup_overdue_grace_from_the_policy():
    assert_boundary(lambda: _followup_planned(utc_edited(OVERDUE, grace="2d"), 2 * DAY), OVERDUE)


def test_followup_overdue_next_due_is_the_end_of_the_planned_day():
    c = Case(utc_only(OVERDUE))
    c.feed(c.registered(T0), T0)
    assert c.feed(c.followup_planned("fu-1", PLANNED), T0).next_due == PLANNED_DUE
    t = datetime(2025, 4, 1, 15, tzinfo=UTC)
    assert c.feed(c.followup_recorded("fu-1", PLANNED, t), t).next_due is None


def test_followup_overdue_clears_when_recorded_and_recurs_for_the_next_one():
    c, due = _planned()
    c.assert_raised(c.tick(due), OVERDUE, 1, due)
    t = due + 3 * DAY
    out = c.feed(c.followup_recorded("fu-1", t.date(), t), t)
    c.assert_resolved(out, OVERDUE, 1, t, reason="follow-up recorded")
    c.feed(c.followup_planned("fu-2", date(2025, 7, 1), t), t)
    due2 = datetime(2025, 7, 2, tzinfo=UTC)
    c.assert_quiet(c.tick(due2 - US), OVERDUE)
    # the next follow-up is its own alert (issue 13 item 7): episode 1 of its own subject
    p2 = c.assert_raised(c.tick(due2), OVERDUE, 1, due2)
    assert p2.alert_id != alert_id_for(c.case_id, OVERDUE, 1)
    assert p2.evidence["subject"] == "followup:fu-2"


def test_followup_overdue_duplicate_events_change_nothing():
    c = Case(in_utc())
    planned = wrap(c.followup_planned("fu-1", PLANNED), at=T0)
    c.feed(planned, T0)
    assert_duplicate_ignored(c, planned, T0 + DAY)
    c.assert_raised(c.tick(PLANNED_DUE), OVERDUE, 1, PLANNED_DUE)
    t = PLANNED_DUE + DAY
    recorded = wrap(c.followup_recorded("fu-1", t.date(), t), at=t)
    c.assert_resolved(c.feed(recorded, t), OVERDUE, 1, t)
    assert_duplicate_ignored(c, planned, t + DAY)
    assert_duplicate_ignored(c, recorded, t + DAY)
    c.assert_quiet(c.tick(t + 30 * DAY), OVERDUE)


# -- followup.overdue (post-closure schedule: 3, 6, 12 months) ----------------------------------

CLOSED_AT = T0 + 100 * DAY


def _closed(policy=None):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    c.feed(c.closed(CLOSED_AT), CLOSED_AT)
    return c, CLOSED_AT + 90 * DAY


def test_post_closure_followup_boundary():
    # one slot only: with per-slot alerts the 6-month slot would be its own (new) alert 200 days on
    assert_boundary(lambda: _closed(edited(OVERDUE, schedule_after_closure=["90d"])), OVERDUE)


def test_post_closure_next_due_walks_the_schedule():
    c = Case(only(OVERDUE))
    c.feed(c.registered(T0), T0)
    assert c.feed(c.closed(CLOSED_AT), CLOSED_AT).next_due == CLOSED_AT + 90 * DAY
    t = CLOSED_AT + 80 * DAY
    assert c.feed(c.followup_recorded("fu-3m", t.date(), t), t).next_due == CLOSED_AT + 180 * DAY


def test_post_closure_followup_clears_when_done_and_the_next_slot_opens_episode_2():
    c, due = _closed()
    c.assert_raised(c.tick(due), OVERDUE, 1, due)
    t = due + 2 * DAY
    out = c.feed(c.followup_recorded("fu-3m", t.date(), t), t)
    c.assert_resolved(out, OVERDUE, 1, t, reason="follow-up recorded")
    due2 = CLOSED_AT + 180 * DAY
    c.assert_quiet(c.tick(due2 - US), OVERDUE)
    # each slot is its own alert (issue 13 item 7)
    assert c.assert_raised(c.tick(due2), OVERDUE, 1, due2).evidence["subject"] == "post-closure:2"
    t2 = due2 + DAY
    c.assert_resolved(c.feed(c.followup_recorded("fu-6m", t2.date(), t2), t2), OVERDUE, 1, t2)
    due3 = CLOSED_AT + 365 * DAY
    c.assert_quiet(c.tick(due3 - US), OVERDUE)
    assert c.assert_raised(c.tick(due3), OVERDUE, 1, due3).evidence["subject"] == "post-closure:3"


def test_post_closure_followup_clears_when_the_case_reopens():
    c, due = _closed()
    c.assert_raised(c.tick(due), OVERDUE, 1, due)
    t = due + DAY
    c.assert_resolved(c.feed(c.status_changed("Closed", "Active", t), t), OVERDUE, 1, t)


def test_post_closure_a_followup_done_before_closure_does_not_count():
    c = Case()
    c.feed(c.registered(T0), T0)
    before = CLOSED_AT - 10 * DAY
    c.feed(c.followup_recorded("fu-0", before.date(), before), before)
    c.feed(c.closed(CLOSED_AT), CLOSED_AT)
    c.assert_raised(c.tick(CLOSED_AT + 90 * DAY), OVERDUE, 1, CLOSED_AT + 90 * DAY)


def test_post_closure_duplicate_followup_counts_once():
    c, due = _closed()
    t = due - 10 * DAY
    done = wrap(c.followup_recorded("fu-3m", t.date(), t), at=t)
    c.feed(done, t)
    assert_duplicate_ignored(c, done, t + DAY)
    # the same follow-up corrected under a new event id still counts once
    c.feed(c.followup_recorded("fu-3m", t.date(), t), t + DAY)
    due2 = CLOSED_AT + 180 * DAY
    c.assert_quiet(c.tick(due2 - US), OVERDUE)
    c.assert_raised(c.tick(due2), OVERDUE, 1, due2)


def test_post_closure_schedule_restarts_after_reopen_and_second_closure():
    c, _ = _closed()
    t = CLOSED_AT + 80 * DAY
    c.feed(c.followup_recorded("fu-3m", t.date(), t), t)
    reopened = CLOSED_AT + 120 * DAY
    c.feed(c.status_changed("Closed", "Active", reopened), reopened)
    closed_again = reopened + 200 * DAY
    c.feed(c.status_changed("Active", "Closed", closed_again), closed_again)
    c.assert_quiet(c.tick(closed_again + 90 * DAY - US), OVERDUE)
    c.assert_raised(c.tick(closed_again + 90 * DAY), OVERDUE, 1, closed_again + 90 * DAY)
