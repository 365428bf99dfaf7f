"""Issue 13 items 1-12: each wrong behaviour through engine.step with a fake clock (each failed before)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.processor.domain.engine import alert_id
from shared.events import case as ce
from shared.events import legal as le
from tests.unit.alerts_rules.support import DAY, T0, US, Case, edited, only, policy_doc

OVERDUE_STAGE = "legal.stage_overdue"
OUTCOME = "legal.hearing_outcome_missing"
ABSENT = "legal.victim_absent"
POSTPONED = "legal.hearing_postponed_repeatedly"
NOTIFY = "legal.victim_not_notified"
RISK = "risk.revictimisation"
SVC = "service.overdue"
NO_REP = "legal.no_representation"
FU = "followup.overdue"
NO_ACT = "legal.no_activity"


def legal(c: Case, at: datetime) -> dict[str, object]:
    return c._legal(at)


# -- 1. a reopened case keeps the deadline its stage change set ----------------------------------


def _reopened() -> tuple[Case, datetime]:
    c = Case(only(OVERDUE_STAGE))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("preliminary_investigation", T0, T0 + 60 * DAY), T0)
    c.feed(c.archived(T0 + 10 * DAY), T0 + 10 * DAY)
    t = T0 + 40 * DAY
    deadline = t + 120 * DAY
    # the legal service publishes the stage change (with the new deadline) and then the reopening
    c.feed(c.stage_changed("preparatory_investigation", t, deadline, previous="archived"), t)
    c.feed(c.reopened(t, stage="preparatory_investigation"), t)
    return c, deadline


def test_reopened_case_keeps_the_deadline_of_its_stage_boundary() -> None:
    c, deadline = _reopened()
    c.assert_quiet(c.tick(deadline - US), OVERDUE_STAGE)
    c.assert_raised(c.tick(deadline), OVERDUE_STAGE, 1, deadline)
    c2, deadline2 = _reopened()
    c2.assert_raised(c2.tick(deadline2 + DAY), OVERDUE_STAGE, 1, deadline2 + DAY)


def test_reopened_overdue_resolves_when_the_stage_moves_and_recurs_as_a_new_episode() -> None:
    c, deadline = _reopened()
    c.assert_raised(c.tick(deadline), OVERDUE_STAGE, 1, deadline)
    t = deadline + DAY
    c.assert_resolved(c.feed(c.stage_changed("intermediate_stage", t, t + 15 * DAY), t), OVERDUE_STAGE, 1, t)
    c.assert_raised(c.tick(t + 15 * DAY), OVERDUE_STAGE, 2, t + 15 * DAY)


def test_reopening_first_then_the_stage_change_sets_the_deadline() -> None:
    c = Case(only(OVERDUE_STAGE))
    c.feed(c.registered(T0), T0)
    c.feed(c.archived(T0 + DAY), T0 + DAY)
    t = T0 + 5 * DAY
    c.feed(c.reopened(t, stage="preparatory_investigation"), t)
    out = c.feed(c.stage_changed("preparatory_investigation", t, t + 120 * DAY), t)
    assert out.next_due == t + 120 * DAY


# -- 2. a hearing scheduled before an archive cannot have its outcome reported: no alert ------------


def test_archive_drops_pending_hearings_and_resolves_their_alert() -> None:
    c = Case(only(OUTCOME))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("preliminary_investigation", T0, T0 + 60 * DAY), T0)
    hearing = T0 + 10 * DAY
    c.feed(c.hearing_scheduled("h-1", hearing, T0), T0)
    c.assert_quiet(c.tick(hearing + 2 * DAY - US), OUTCOME)
    c.assert_raised(c.tick(hearing + 2 * DAY), OUTCOME, 1, hearing + 2 * DAY)
    t = hearing + 3 * DAY
    c.assert_resolved(c.feed(c.archived(t), t), OUTCOME, 1, t, reason="prosecution ended: no outcome can be reported")
    c.assert_quiet(c.tick(t + 300 * DAY), OUTCOME)
    # reopened, a new hearing whose outcome is missing is news again
    t2 = t + 30 * DAY
    c.feed(c.reopened(t2), t2)
    c.feed(c.hearing_scheduled("h-2", t2 + DAY, t2), t2)
    c.assert_raised(c.tick(t2 + 3 * DAY), OUTCOME, 1, t2 + 3 * DAY)


def test_hearing_scheduled_before_archive_arriving_after_it_raises_nothing() -> None:
    c = Case(only(OUTCOME))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("preliminary_investigation", T0), T0)
    c.feed(c.archived(T0 + 5 * DAY), T0 + 5 * DAY)
    c.feed(c.hearing_scheduled("h-1", T0 + 10 * DAY, T0), T0 + 6 * DAY)
    c.assert_quiet(c.tick(T0 + 100 * DAY), OUTCOME)


# -- 3. absences counted by when the hearings happened ---------------------------------------------


def test_a_late_attendance_report_does_not_clear_later_absences() -> None:
    c = Case(only(ABSENT))
    c.feed(c.registered(T0), T0)
    jan, feb, mar = (datetime(2025, m, 10, 15, tzinfo=UTC) for m in (1, 2, 3))
    c.assert_quiet(c.feed(c.victim_absent(feb), feb), ABSENT)  # before the threshold: one absence
    c.assert_raised(c.feed(c.victim_absent(mar), mar), ABSENT, 1, mar)  # at it: two in a row
    late = mar + DAY
    c.assert_quiet(c.feed(c.victim_attended(jan), late), ABSENT)  # January's attendance, reported late
    assert c.is_open(ABSENT)
    apr = datetime(2025, 4, 10, 15, tzinfo=UTC)
    c.assert_resolved(c.feed(c.victim_attended(apr), apr), ABSENT, 1, apr, reason="child attended a hearing")
    may, jun = datetime(2025, 5, 10, tzinfo=UTC), datetime(2025, 6, 10, tzinfo=UTC)
    c.assert_quiet(c.feed(c.victim_absent(may), may), ABSENT)
    c.assert_raised(c.feed(c.victim_absent(jun), jun), ABSENT, 2, jun)


def test_a_late_absence_before_the_last_attendance_does_not_count() -> None:
    c = Case(only(ABSENT))
    c.feed(c.registered(T0), T0)
    c.feed(c.victim_attended(T0 + 10 * DAY), T0 + 10 * DAY)
    c.feed(c.victim_absent(T0 + 20 * DAY), T0 + 20 * DAY)
    c.assert_quiet(c.feed(c.victim_absent(T0 + 5 * DAY), T0 + 21 * DAY), ABSENT)  # happened before attending


# -- 4. postponements counted in the stage they happened in ---------------------------------------


def test_a_late_postponement_from_the_previous_stage_does_not_count() -> None:
    c = Case(only(POSTPONED))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("preliminary_investigation", T0, T0 + 60 * DAY), T0)
    prep = T0 + 50 * DAY
    c.feed(c.stage_changed("preparatory_investigation", prep, prep + 120 * DAY), prep)
    for k, t in enumerate((prep + 5 * DAY, prep + 10 * DAY), start=1):
        c.assert_quiet(c.feed(c.hearing_postponed(f"h-{k}", k, t, new_date=t + DAY), t), POSTPONED)
    # the third one happened in the preliminary stage (day 20), reported now: the legal service counts it
    # as the 3rd in its stage and names the stage the case is in now
    late = c.hearing_postponed("h-0", 3, T0 + 20 * DAY, new_date=T0 + 25 * DAY, stage="preparatory_investigation")
    c.assert_quiet(c.feed(late, prep + 11 * DAY), POSTPONED)
    t = prep + 12 * DAY
    c.assert_raised(c.feed(c.hearing_postponed("h-3", 3, t, new_date=t + DAY), t), POSTPONED, 1, t)
    t2 = t + DAY
    c.assert_resolved(c.feed(c.stage_changed("intermediate_stage", t2, t2 + 15 * DAY), t2), POSTPONED, 1, t2)


# -- 5. which notification tells the child of which decision --------------------------------------


def _notice(c: Case, at: datetime, about: str) -> le.VictimNotified:
    return le.VictimNotified(**legal(c, at), about=about)  # type: ignore[arg-type]


def test_a_hearing_notice_after_a_verdict_does_not_count_as_notifying_the_verdict() -> None:
    c = Case(only(NOTIFY))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("trial", T0), T0)
    v = T0 + 10 * DAY
    c.feed(c.verdict_issued(v), v)
    c.assert_quiet(c.feed(_notice(c, v + DAY, "hearing"), v + DAY), NOTIFY)
    c.assert_quiet(c.tick(v + 5 * DAY - US), NOTIFY)
    c.assert_raised(c.tick(v + 5 * DAY), NOTIFY, 1, v + 5 * DAY)
    t = v + 6 * DAY
    c.assert_resolved(c.feed(_notice(c, t, "verdict"), t), NOTIFY, 1, t, reason="victim notified")


def test_sobreseimiento_is_a_decision_the_child_must_be_told_of() -> None:
    c = Case(only(NOTIFY))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("intermediate_stage", T0, T0 + 15 * DAY), T0)
    d = T0 + 20 * DAY
    c.feed(c.stage_changed("final", d, previous="intermediate_stage"), d)
    c.assert_quiet(c.tick(d + 5 * DAY - US), NOTIFY)
    p = c.assert_raised(c.tick(d + 5 * DAY), NOTIFY, 1, d + 5 * DAY)
    assert p.evidence["trigger"] == "dismissal"
    t = d + 7 * DAY
    c.assert_resolved(c.feed(_notice(c, t, "sobreseimiento"), t), NOTIFY, 1, t)


# -- 6. raising the risk floor does not swallow the next critical flag ------------------------------


def test_a_critical_flag_after_the_floor_was_raised_is_raised() -> None:
    c = Case(edited(RISK, min_flag_severity="low"))
    c.feed(c.registered(T0), T0)
    c.assert_raised(c.feed(c.risk_flag(T0 + DAY, severity="low"), T0 + DAY), RISK, 1, T0 + DAY)
    c.assert_raised(c.feed(c.risk_flag(T0 + 2 * DAY, severity="low"), T0 + 2 * DAY), RISK, 2, T0 + 2 * DAY)
    c.policy = edited(RISK, min_flag_severity="high")
    c.assert_quiet(c.tick(T0 + 3 * DAY), RISK)
    c.assert_quiet(c.feed(c.risk_flag(T0 + 4 * DAY, severity="medium"), T0 + 4 * DAY), RISK)  # below the floor
    t = T0 + 5 * DAY
    p = c.assert_raised(c.feed(c.risk_flag(t, severity="critical"), t), RISK, 3, t)  # at/above the floor
    assert p.evidence["signal_severity"] == "critical"


# -- 7. one alert per late thing ------------------------------------------------------------------


def test_two_services_overdue_are_two_alerts_each_resolved_by_its_own_session() -> None:
    c = Case(only(SVC))
    c.feed(c.registered(T0), T0)
    due = T0 + DAY
    c.feed(c.service_planned("psy-1", due, kind="psychosocial_care", spl_type="SocialCare"), T0)
    c.feed(c.service_planned("hlt-1", due), T0)
    c.assert_quiet(c.tick(due + 2 * DAY - US), SVC)
    out = c.tick(due + 2 * DAY)
    raised = {p.evidence["subject"]: p for p in out.raised(SVC)}
    assert set(raised) == {"service:psy-1", "service:hlt-1"}
    assert raised["service:psy-1"].alert_id == alert_id(c.case_id, SVC, "service:psy-1", 1)
    assert "psychosocial_care" in raised["service:psy-1"].summary
    assert "health_checkup" not in raised["service:psy-1"].summary
    t = due + 3 * DAY
    out = c.feed(c.session("psy-1", "attended", t, kind="psychosocial_care"), t)
    c.assert_resolved(out, SVC, 1, t, reason="session recorded")
    assert out.resolved(SVC)[0].alert_id == alert_id(c.case_id, SVC, "service:psy-1", 1)
    assert c.is_open(SVC, "service:hlt-1") and not c.is_open(SVC, "service:psy-1")
    # psy-1's next session (weekly) late again: a new episode of psy-1's alert
    again = due + 7 * DAY + 2 * DAY
    p = c.assert_raised(c.tick(again), SVC, 2, again)
    assert p.evidence["subject"] == "service:psy-1"


# -- 8. the alert follows the case's current advocate ----------------------------------------------


def test_reassignment_updates_the_open_alert_to_the_new_advocate() -> None:
    doc = policy_doc()
    doc["publish_alert_updates"] = True
    from services.processor.domain.policy import parse_policy

    c = Case(parse_policy(doc))
    c.feed(c.registered(T0, advocate_id="adv-1"), T0)
    c.feed(c.service_planned("svc-1", T0 + DAY), T0)
    raised = c.assert_raised(c.tick(T0 + 3 * DAY), SVC, 1, T0 + 3 * DAY)
    assert raised.advocate_id == "adv-1"
    t = T0 + 4 * DAY
    reassigned = ce.AdvocateAssigned(
        case_id=c.case_id, advocate_id="adv-2", previous_advocate_id="adv-1", org_id="org-1", assigned_at=t
    )
    out = c.feed(reassigned, t)
    updates = [e for e in out.events if e.type == "centinela.alert.updated"]
    u: Any = updates[0].payload
    assert [e.payload.alert_id for e in updates] == [raised.alert_id]  # type: ignore[attr-defined]
    assert u.advocate_id == "adv-2" and u.previous_advocate_id == "adv-1"
    assert u.changed == ["advocate"]
    assert c.tick(t + US).events == []  # said once
    # a later raise carries the current advocate
    c.feed(c.service_planned("svc-2", t + DAY), t)
    p = next(p for p in c.tick(t + 3 * DAY).raised(SVC) if p.evidence["subject"] == "service:svc-2")
    assert p.advocate_id == "adv-2"


def test_updates_are_on_in_the_shipped_policy() -> None:
    # the alerts service consumes centinela.alert.updated (shared.events.alerts) since issue 18
    assert Case().policy.publish_alert_updates is True


def test_updates_are_not_published_when_the_policy_turns_them_off() -> None:
    doc = policy_doc()
    doc["publish_alert_updates"] = False
    from services.processor.domain.policy import parse_policy

    c = Case(parse_policy(doc))
    c.feed(c.registered(T0, advocate_id="adv-1"), T0)
    c.feed(c.service_planned("svc-1", T0 + DAY), T0)
    c.tick(T0 + 3 * DAY)
    t = T0 + 4 * DAY
    out = c.feed(ce.AdvocateAssigned(case_id=c.case_id, advocate_id="adv-2", org_id="org-1", assigned_at=t), t)
    assert [e for e in out.events if e.type == "centinela.alert.updated"] == []


# -- 9. re-registration told on the earlier case ------------------------------------------------------


def test_reregistration_raises_revictimisation_on_the_earlier_case() -> None:
    c = Case(only(RISK))
    c.feed(c.registered(T0), T0)
    t = T0 + 30 * DAY
    fact = ce.CasePersonReregistered(
        case_id=c.case_id, org_id="org-1", new_case_org_id="org-9", new_case_id=None, person_ref="pr_1", detected_at=t
    )
    p = c.assert_raised(c.feed(fact, t), RISK, 1, t)
    assert p.evidence["signal"] == "registered_again"
    assert "pr_1" not in p.summary and "org-9" not in p.summary  # no other organisation's data in the text
    c.assert_quiet(c.tick(t + 365 * DAY), RISK)  # a person decides when it is over
    t2 = t + 400 * DAY
    again = fact.model_copy(update={"detected_at": t2})
    c.assert_raised(c.feed(again, t2), RISK, 2, t2)  # another re-registration: a new episode


# -- 10. the organisation's own advocate counts as representation ---------------------------------


def test_own_advocate_counts_as_representation() -> None:
    c = Case(only(NO_REP))
    c.feed(c.registered(T0), T0)
    c.assert_quiet(c.tick(T0 + 7 * DAY - US), NO_REP)
    c.assert_raised(c.tick(T0 + 7 * DAY), NO_REP, 1, T0 + 7 * DAY)
    t = T0 + 8 * DAY
    out = c.feed(ce.AdvocateAssigned(case_id=c.case_id, advocate_id="adv-3", org_id="org-1", assigned_at=t), t)
    c.assert_resolved(out, NO_REP, 1, t, reason="the organisation's advocate was assigned")
    c2 = Case(only(NO_REP))
    c2.feed(c2.registered(T0, advocate_id="adv-3"), T0)
    c2.assert_quiet(c2.tick(T0 + 30 * DAY), NO_REP)
    c3 = Case(only(NO_REP, own_advocate_counts=False))
    c3.feed(c3.registered(T0, advocate_id="adv-3"), T0)
    c3.assert_raised(c3.tick(T0 + 7 * DAY), NO_REP, 1, T0 + 7 * DAY)


# -- 11. a date ends at midnight in the organisation's time zone ------------------------------------


def test_followup_due_at_the_end_of_the_day_in_lima() -> None:
    c = Case(only(FU))
    c.feed(c.registered(T0), T0)
    c.feed(c.followup_planned("fu-1", date(2025, 4, 1)), T0)
    lima_midnight = datetime(2025, 4, 2, 5, tzinfo=UTC)  # UTC-5
    c.assert_quiet(c.tick(datetime(2025, 4, 2, 0, 0, tzinfo=UTC)), FU)  # 19:00 in Lima: still on time
    c.assert_quiet(c.tick(lima_midnight - US), FU)
    c.assert_raised(c.tick(lima_midnight), FU, 1, lima_midnight)
    t = lima_midnight + DAY
    c.assert_resolved(c.feed(c.followup_recorded("fu-1", t.date(), t), t), FU, 1, t, reason="follow-up recorded")


def test_time_zone_is_configurable() -> None:
    doc = policy_doc()
    doc["organisation"] = {"time_zone": "Asia/Tokyo"}
    from services.processor.domain.policy import parse_policy

    c = Case(parse_policy(doc))
    c.feed(c.registered(T0), T0)
    c.feed(c.followup_planned("fu-1", date(2025, 4, 1)), T0)
    tokyo_midnight = datetime(2025, 4, 1, 15, tzinfo=UTC)  # UTC+9
    c.assert_quiet(c.tick(tokyo_midnight - US), FU)
    c.assert_raised(c.tick(tokyo_midnight), FU, 1, tokyo_midnight)


# -- 12. no_activity counted from registration (see test_legal.py for the boundary) ------------------


def test_no_activity_after_registration_resolves_when_the_case_closes() -> None:
    c = Case(only(NO_ACT))
    c.feed(c.registered(T0), T0)
    c.assert_raised(c.tick(T0 + 91 * DAY), NO_ACT, 1, T0 + 91 * DAY)
    t = T0 + 92 * DAY
    c.assert_resolved(c.feed(c.closed(t), t), NO_ACT, 1, t, reason="case closed")


def test_an_alert_raised_per_case_before_the_upgrade_is_closed_and_replaced_per_service() -> None:
    from services.processor.domain.engine import SUPERSEDED
    from services.processor.domain.state import AlertTrack
    from shared.events.alerts import alert_id_for

    c = Case(only(SVC))
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("svc-1", T0 + DAY), T0)
    assert c.state is not None
    old_id = alert_id_for(c.case_id, SVC, 1)
    c.state.alerts[SVC] = AlertTrack(episode=1, open=True, alert_id=old_id, raised_at=T0 + 3 * DAY, severity="medium")
    out = c.tick(T0 + 4 * DAY)
    assert [(p.alert_id, p.reason) for p in out.resolved(SVC)] == [(old_id, SUPERSEDED)]
    assert [p.evidence["subject"] for p in out.raised(SVC)] == ["service:svc-1"]
    assert c.tick(T0 + 5 * DAY).events == []


def test_reassignment_moves_every_open_risk_alert_but_not_one_a_person_resolved() -> None:
    from services.processor.domain.policy import parse_policy
    from shared.events.alerts import AlertResolved

    doc = policy_doc()
    doc["publish_alert_updates"] = True
    c = Case(parse_policy(doc))
    c.feed(c.registered(T0, advocate_id="adv-1"), T0)
    first = c.assert_raised(c.feed(c.risk_flag(T0 + DAY), T0 + DAY), RISK, 1, T0 + DAY)
    second = c.assert_raised(c.feed(c.risk_flag(T0 + 2 * DAY), T0 + 2 * DAY), RISK, 2, T0 + 2 * DAY)
    third = c.assert_raised(c.feed(c.risk_flag(T0 + 3 * DAY), T0 + 3 * DAY), RISK, 3, T0 + 3 * DAY)
    by_hand = AlertResolved(
        case_id=c.case_id,
        alert_id=second.alert_id,
        rule=RISK,
        episode=2,
        auto=False,
        reason="handled",
        by="adv-1",
        resolved_at=T0 + 4 * DAY,
    )
    c.assert_quiet(c.feed(by_hand, T0 + 4 * DAY), RISK)
    t = T0 + 5 * DAY
    out = c.feed(ce.AdvocateAssigned(case_id=c.case_id, advocate_id="adv-2", org_id="org-1", assigned_at=t), t)
    updated: list[Any] = [e.payload for e in out.events if e.type == "centinela.alert.updated"]
    assert sorted(u.alert_id for u in updated) == sorted([first.alert_id, third.alert_id])
    assert all(u.advocate_id == "adv-2" and u.previous_advocate_id == "adv-1" for u in updated)
    assert c.tick(t + DAY).events == []


def test_disabling_a_per_subject_rule_resolves_each_of_its_alerts() -> None:
    c = Case(only(SVC))
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("a-1", T0 + DAY), T0)
    c.feed(c.service_planned("b-1", T0 + DAY), T0)
    assert len(c.tick(T0 + 3 * DAY).raised(SVC)) == 2
    c.policy = only(SVC, enabled=False)
    out = c.tick(T0 + 4 * DAY)
    assert sorted(p.reason for p in out.resolved(SVC)) == ["rule disabled in the alert policy"] * 2
