"""Issue 12 item 5: reminders before a deadline or a hearing, through engine.step with a fake clock."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from services.processor.domain.engine import alert_id
from shared.events import legal as le
from tests.unit.alerts_rules.support import DAY, T0, US, Case, only

APPROACH = "legal.deadline_approaching"
UPCOMING = "legal.hearing_upcoming"


def _stage(deadline: datetime) -> Case:
    c = Case(only(APPROACH))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("preparatory_investigation", T0, deadline), T0)
    return c


DEADLINE = T0 + 120 * DAY


def test_stage_deadline_reminders_at_ten_and_three_days() -> None:
    c = _stage(DEADLINE)
    assert c.tick(T0).next_due == DEADLINE - 10 * DAY
    c.assert_quiet(c.tick(DEADLINE - 10 * DAY - US), APPROACH)
    p10 = c.assert_raised(c.tick(DEADLINE - 10 * DAY), APPROACH, 1, DEADLINE - 10 * DAY)
    assert p10.evidence["lead_time"] == "10d"
    assert p10.alert_id == alert_id(c.case_id, APPROACH, "stage:preparatory_investigation@10d", 1)
    c.assert_quiet(c.tick(DEADLINE - 3 * DAY - US), APPROACH)
    out = c.tick(DEADLINE - 3 * DAY)  # the 3-day reminder opens, the 10-day one is superseded
    assert [p.evidence["lead_time"] for p in out.raised(APPROACH)] == ["3d"]
    assert [p.alert_id for p in out.resolved(APPROACH)] == [p10.alert_id]
    out = c.tick(DEADLINE)  # the deadline is reached: the reminder is over (stage_overdue takes over)
    assert len(out.resolved(APPROACH)) == 1 and not out.raised(APPROACH)
    c.assert_quiet(c.tick(DEADLINE + DAY), APPROACH)


def test_first_looked_at_after_the_lead_time_raises_the_tightest_reminder_only() -> None:
    c = _stage(DEADLINE)
    out = c.tick(DEADLINE - 2 * DAY)
    assert [p.evidence["lead_time"] for p in out.raised(APPROACH)] == ["3d"]


def test_reminder_resolves_when_the_deadline_moves_and_returns_as_a_new_episode() -> None:
    c = _stage(DEADLINE)
    c.assert_raised(c.tick(DEADLINE - 3 * DAY), APPROACH, 1, DEADLINE - 3 * DAY)
    t = DEADLINE - 2 * DAY
    extended = DEADLINE + 60 * DAY  # art. 342.1 extension
    out = c.feed(c.stage_changed("preparatory_investigation", T0, extended), t)
    c.assert_resolved(out, APPROACH, 1, t, reason="deadline met, moved or reached")
    assert c.state is not None and c.state.stage_started_at == T0
    c.assert_quiet(c.tick(extended - 10 * DAY - US), APPROACH)
    assert c.tick(extended - 10 * DAY).raised(APPROACH)[0].evidence["lead_time"] == "10d"
    p = c.tick(extended - 3 * DAY).raised(APPROACH)[0]
    assert p.episode == 2  # the 3-day reminder of this stage, again


def test_reminder_resolves_when_the_stage_changes() -> None:
    c = _stage(DEADLINE)
    c.assert_raised(c.tick(DEADLINE - 5 * DAY), APPROACH, 1, DEADLINE - 5 * DAY)
    t = DEADLINE - 4 * DAY
    c.assert_resolved(c.feed(c.stage_changed("intermediate_stage", t, t + 15 * DAY), t), APPROACH, 1, t)


def _deadline_set(
    kind: str, article: str, nature: str, c: Case, at: datetime, status: str, due: datetime
) -> le.DeadlineSet:
    return le.DeadlineSet(
        **c._legal(at),  # type: ignore[arg-type]
        deadline_id=f"{kind}:{'v1' if nature == 'window' else 's1'}",
        deadline_kind=kind,
        status=status,  # type: ignore[arg-type]
        due_at=due,
        opened_at=at,
        article=article,
        nature=nature,  # type: ignore[arg-type]
    )


_window = partial(_deadline_set, "appeal_sentence", "CPP art. 414", "window")


def test_deadline_set_window_reminder_and_met() -> None:
    c = Case(only(APPROACH, lead_times=["3d"]))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("verdict", T0), T0)
    due = T0 + 5 * DAY
    c.feed(_window(c, T0, "open", due), T0)
    c.assert_quiet(c.tick(due - 3 * DAY - US), APPROACH)
    p = c.assert_raised(c.tick(due - 3 * DAY), APPROACH, 1, due - 3 * DAY)
    assert p.evidence["article"] == "CPP art. 414"
    t = due - DAY
    c.assert_resolved(c.feed(_window(c, t, "met", due), t), APPROACH, 1, t)
    c.assert_quiet(c.tick(due + DAY), APPROACH)


HEARING = T0 + 30 * DAY


def _hearing() -> Case:
    c = Case(only(UPCOMING))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("trial", T0), T0)
    c.feed(c.hearing_scheduled("h-1", HEARING, T0), T0)
    return c


def test_hearing_upcoming_boundary_and_resolved_when_held() -> None:
    c = _hearing()
    c.assert_quiet(c.tick(HEARING - 3 * DAY - US), UPCOMING)
    p = c.assert_raised(c.tick(HEARING - 3 * DAY), UPCOMING, 1, HEARING - 3 * DAY)
    assert "psychosocial" in p.summary
    c.assert_quiet(c.tick(HEARING - DAY), UPCOMING)
    t = HEARING - DAY + US
    c.assert_resolved(c.feed(c.hearing_held("h-1", t), t), UPCOMING, 1, t)


def test_hearing_upcoming_after_threshold_and_new_episode_when_rescheduled() -> None:
    c = _hearing()
    c.assert_raised(c.tick(HEARING - DAY), UPCOMING, 1, HEARING - DAY)
    t = HEARING - DAY + US
    new_date = HEARING + 20 * DAY
    out = c.feed(c.hearing_postponed("h-1", 1, t, new_date=new_date), t)
    c.assert_resolved(out, UPCOMING, 1, t, reason="hearing held, moved or reached")
    c.assert_quiet(c.tick(new_date - 3 * DAY - US), UPCOMING)
    c.assert_raised(c.tick(new_date - 3 * DAY), UPCOMING, 2, new_date - 3 * DAY)
    c.assert_resolved(c.tick(new_date), UPCOMING, 2, new_date)  # the date is reached


MISSED = "legal.deadline_missed"


_duty = partial(_deadline_set, "accusation_decision", "CPP art. 344.1", "duty")


def test_duty_deadline_missed_boundary_met_and_new_episode() -> None:
    c = Case(only(MISSED))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("intermediate_stage", T0), T0)
    due = T0 + 15 * DAY
    c.feed(_duty(c, T0, "open", due), T0)
    c.assert_quiet(c.tick(due - US), MISSED)
    p = c.assert_raised(c.tick(due), MISSED, 1, due)
    assert "CPP art. 344.1" in p.summary
    c.assert_quiet(c.tick(due + DAY), MISSED)
    t = due + 2 * DAY
    c.assert_resolved(c.feed(_duty(c, t, "met", due), t), MISSED, 1, t, reason="deadline met or cancelled")
    c.feed(_duty(c, t, "open", t + 5 * DAY), t)  # opened again (e.g. the case came back)
    c.assert_raised(c.tick(t + 6 * DAY), MISSED, 2, t + 6 * DAY)


def test_a_window_has_no_missed_alert() -> None:
    c = Case(only(MISSED))
    c.feed(c.registered(T0), T0)
    c.feed(_window(c, T0, "open", T0 + 5 * DAY), T0)
    c.assert_quiet(c.tick(T0 + 50 * DAY), MISSED)
