"""A manual resolution reaches the processor (issue 10 item 5): the episode closes, and while the
condition goes on a new episode opens at the first check after the rule's quiet period."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.processor.domain.engine import alert_id
from shared.events.alerts import AlertResolved
from tests.unit.alerts_rules.support import DAY, T0, US, Case, only

OVERDUE = "service.overdue"
FIRST_DUE = T0 + 10 * DAY
DUE = FIRST_DUE + 2 * DAY  # the default threshold
QUIET = timedelta(days=7)  # the default quiet_after_manual_resolve


def overdue_case(**changes: object) -> Case:
    c = Case(only(OVERDUE, **changes))
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("svc-1", FIRST_DUE), T0)
    c.assert_raised(c.tick(DUE), OVERDUE, 1, DUE)
    return c


def resolved_by_hand(c: Case, episode: int, at: datetime, by: str = "adv-7") -> AlertResolved:
    return AlertResolved(
        case_id=c.case_id,
        alert_id=alert_id(c.case_id, OVERDUE, "service:svc-1", episode),  # one alert per service
        rule=OVERDUE,
        episode=episode,
        auto=False,
        reason="resolved by hand",
        by=by,
        resolved_at=at,
    )


def test_manual_resolution_closes_the_episode_and_a_new_one_opens_after_the_quiet_period() -> None:
    c = overdue_case()
    at = DUE + DAY
    out = c.feed(resolved_by_hand(c, 1, at), at)
    c.assert_quiet(out, OVERDUE)  # the processor publishes nothing: the alerts service already did
    assert not c.is_open(OVERDUE)
    assert out.next_due == at + QUIET  # the heap wakes the case when the quiet period ends
    c.assert_quiet(c.tick(at + QUIET - US), OVERDUE)
    c.assert_raised(c.tick(at + QUIET), OVERDUE, 2, at + QUIET)


def test_quiet_period_comes_from_the_policy() -> None:
    c = overdue_case(quiet_after_manual_resolve="1h")
    at = DUE + DAY
    c.feed(resolved_by_hand(c, 1, at), at)
    c.assert_quiet(c.tick(at + timedelta(minutes=59)), OVERDUE)
    c.assert_raised(c.tick(at + timedelta(hours=1)), OVERDUE, 2, at + timedelta(hours=1))


def test_condition_cleared_during_the_quiet_period_then_back_opens_at_once() -> None:
    c = overdue_case()
    at = DUE + DAY
    c.feed(resolved_by_hand(c, 1, at), at)
    t = at + DAY
    c.assert_quiet(c.feed(c.session("svc-1", "attended", t), t), OVERDUE)  # cleared: no auto-resolve of a closed one
    # the next session (interval 7 days from the plan) is missed in its turn: news at once, not after quiet
    again = FIRST_DUE + 7 * DAY + 2 * DAY
    c.assert_raised(c.tick(again), OVERDUE, 2, again)


def test_resolution_of_another_episode_or_a_replay_changes_nothing() -> None:
    c = overdue_case()
    at = DUE + DAY
    c.assert_quiet(c.feed(resolved_by_hand(c, 7, at), at), OVERDUE)
    assert c.is_open(OVERDUE)
    fact = resolved_by_hand(c, 1, at)
    c.feed(fact, at)
    assert not c.is_open(OVERDUE)
    state = c.state
    c.feed(fact, at + DAY)  # same payload, new event id: the episode is already closed
    assert c.state is not None and state is not None
    key = f"{OVERDUE}#service:svc-1"
    assert c.state.alerts[key] == state.alerts[key]


def test_automatic_resolutions_on_the_topic_are_not_manual() -> None:
    c = overdue_case()
    auto = resolved_by_hand(c, 1, DUE + DAY).model_copy(update={"auto": True, "by": None})
    c.feed(auto, DUE + DAY)
    assert c.is_open(OVERDUE)
