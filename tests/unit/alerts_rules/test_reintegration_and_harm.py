"""Issue 13 items 13-14: reintegration lapses and harm from the justice process, through engine.step."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from shared.events import case as ce
from shared.events import legal as le
from tests.unit.alerts_rules.support import DAY, T0, US, Case, only

DROPOUT = "reintegration.school_dropout"
PLACEMENT = "reintegration.placement_review_overdue"
REPARATION = "harm.reparation_unpaid"


def outcome(c: Case, domain: str, status: str, effective: date, oid: str = "ro-1") -> ce.ReintegrationRecorded:
    return ce.ReintegrationRecorded(
        case_id=c.case_id,
        org_id="org-1",
        outcome_id=oid,
        domain=domain,  # type: ignore[arg-type]
        status=status,
        effective_date=effective,
        recorded_at=T0,
    )


def lima_start(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 5, tzinfo=UTC)  # 00:00 in Lima


def test_school_dropout_raises_from_its_effective_day_and_resolves_on_return() -> None:
    c = Case(only(DROPOUT))
    c.feed(c.registered(T0), T0)
    c.feed(outcome(c, "education", "attending", date(2025, 3, 10)), T0)
    day = date(2025, 5, 2)
    start = lima_start(day)
    # recorded ahead of its effective day: nothing before that day starts in Lima
    c.assert_quiet(c.feed(outcome(c, "education", "dropped_out", day, "ro-2"), start - DAY), DROPOUT)
    c.assert_quiet(c.tick(start - US), DROPOUT)
    p = c.assert_raised(c.tick(start), DROPOUT, 1, start)
    assert p.evidence["status"] == "dropped_out"
    c.assert_quiet(c.tick(start + 30 * DAY), DROPOUT)
    t = start + 40 * DAY
    out = c.feed(outcome(c, "education", "enrolled", date(2025, 6, 10), "ro-3"), t)
    c.assert_resolved(out, DROPOUT, 1, t, reason="child back in education")
    t2 = t + 100 * DAY
    c.assert_raised(c.feed(outcome(c, "education", "dropped_out", date(2025, 9, 1), "ro-4"), t2), DROPOUT, 2, t2)


def test_an_older_record_arriving_late_does_not_override_the_latest() -> None:
    c = Case(only(DROPOUT))
    c.feed(c.registered(T0), T0)
    c.feed(outcome(c, "education", "enrolled", date(2025, 4, 1)), T0 + 40 * DAY)
    late = outcome(c, "education", "dropped_out", date(2025, 3, 1), "ro-0")
    c.assert_quiet(c.feed(late, T0 + 41 * DAY), DROPOUT)


def test_placement_review_overdue_boundary_review_and_new_episode() -> None:
    c = Case(only(PLACEMENT))
    c.feed(c.registered(T0), T0)
    c.feed(outcome(c, "placement", "residential", date(2025, 3, 1)), T0)
    due = datetime(2025, 3, 2, 5, tzinfo=UTC) + 180 * DAY  # end of the day in Lima + 180d
    c.assert_quiet(c.tick(due - US), PLACEMENT)
    c.assert_raised(c.tick(due), PLACEMENT, 1, due)
    t = due + DAY
    out = c.feed(outcome(c, "placement", "family", t.date(), "ro-2"), t)
    c.assert_resolved(out, PLACEMENT, 1, t, reason="placement reviewed")
    due2 = datetime(t.year, t.month, t.day, 5, tzinfo=UTC) + DAY + 180 * DAY
    c.assert_quiet(c.tick(due2 - US), PLACEMENT)
    c.assert_raised(c.tick(due2 + DAY), PLACEMENT, 2, due2 + DAY)


def _reparation(c: Case, kind: str, at: datetime) -> le.LegalFact:
    cls = le.ReparationOrdered if kind == "ordered" else le.ReparationPaid
    return cls(**c._legal(at), amount=1000.0, currency="PEN")  # type: ignore[arg-type]


def test_reparation_unpaid_boundary_and_resolution_by_payment() -> None:
    c = Case(only(REPARATION))
    c.feed(c.registered(T0), T0)
    ordered = T0 + 10 * DAY
    c.feed(_reparation(c, "ordered", ordered), ordered)
    due = ordered + 90 * DAY
    c.assert_quiet(c.tick(due - US), REPARATION)
    c.assert_raised(c.tick(due), REPARATION, 1, due)
    c.assert_quiet(c.tick(due + DAY), REPARATION)
    t = due + 5 * DAY
    c.assert_resolved(c.feed(_reparation(c, "paid", t), t), REPARATION, 1, t, reason="reparation paid")
    # a second order (e.g. after appeal) unpaid: a new episode
    o2 = t + 30 * DAY
    c.feed(_reparation(c, "ordered", o2), o2)
    c.assert_raised(c.tick(o2 + 91 * DAY), REPARATION, 2, o2 + 91 * DAY)


def test_a_payment_before_the_order_does_not_pay_it() -> None:
    c = Case(only(REPARATION))
    c.feed(c.registered(T0), T0)
    c.feed(_reparation(c, "paid", T0 + DAY), T0 + DAY)
    c.feed(_reparation(c, "ordered", T0 + 2 * DAY), T0 + 2 * DAY)
    c.assert_raised(c.tick(T0 + 92 * DAY), REPARATION, 1, T0 + 92 * DAY)


ALONE = "harm.hearing_without_accompaniment"


def _attended(at: datetime) -> Case:
    c = Case(only(ALONE))
    c.feed(c.registered(T0), T0)
    c.feed(c.service_planned("psy-1", T0 + DAY, kind="psychosocial_care", spl_type="SocialCare"), T0)
    c.feed(c.victim_attended(at, "h-1"), at)
    return c


def test_hearing_without_accompaniment_boundary_and_late_report_clears() -> None:
    h = T0 + 20 * DAY
    c = _attended(h)
    c.assert_quiet(c.tick(h + DAY - US), ALONE)
    p = c.assert_raised(c.tick(h + DAY), ALONE, 1, h + DAY)
    assert p.evidence["hearing_id"] == "h-1"
    c.assert_quiet(c.tick(h + 3 * DAY), ALONE)
    # the session on the hearing's day is reported late: the accompaniment was there
    t = h + 4 * DAY
    out = c.feed(c.session("psy-1", "attended", h - timedelta(hours=2), kind="psychosocial_care"), t)
    c.assert_resolved(out, ALONE, 1, t, reason="psychosocial accompaniment recorded")


def test_accompanied_hearing_raises_nothing_and_the_next_lone_one_does() -> None:
    h = T0 + 20 * DAY
    c = _attended(h)
    c.feed(c.session("psy-1", "attended", h, kind="psychosocial_care"), h)
    c.assert_quiet(c.tick(h + 30 * DAY), ALONE)
    h2 = h + 40 * DAY
    c.feed(c.victim_attended(h2, "h-2"), h2)
    c.assert_raised(c.tick(h2 + 2 * DAY), ALONE, 1, h2 + 2 * DAY)
    # a session of another kind is not accompaniment
    c2 = _attended(h)
    c2.feed(c2.session("hl-1", "attended", h), h)
    c2.assert_raised(c2.tick(h + DAY + US), ALONE, 1, h + DAY + US)
