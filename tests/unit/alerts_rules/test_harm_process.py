"""Issue 13 item 14, the last two harms from the justice process, through engine.step with a fake clock:
a protective measure that expires with the case still open, and a second testimony after the single
Cámara Gesell interview."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.processor.domain.engine import alert_id
from shared.events import legal as le
from shared.events.alerts import AlertResolved
from tests.unit.alerts_rules.support import DAY, T0, US, Case, assert_boundary, assert_duplicate_ignored, only, wrap

EXPIRED = "harm.protective_measure_expired"
AGAIN = "harm.second_testimony"
EXPIRES = T0 + 30 * DAY


def granted(c: Case, at: datetime, expires: datetime | None = EXPIRES, mid: str | None = "mp-1") -> le.LegalFact:
    return le.ProtectiveMeasureGranted(**c._legal(at), measure="restraining_order", measure_id=mid, expires_at=expires)


def renewed(c: Case, at: datetime, expires: datetime, mid: str = "mp-1") -> le.LegalFact:
    return le.ProtectiveMeasureRenewed(**c._legal(at), measure_id=mid, expires_at=expires)


def ended(c: Case, at: datetime, mid: str = "mp-1") -> le.LegalFact:
    return le.ProtectiveMeasureEnded(**c._legal(at), measure_id=mid, reason="lifted_by_court")


def measure_case(**changes: Any) -> Case:
    c = Case(only(EXPIRED, **changes))
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("preliminary_investigation", T0), T0)
    c.feed(granted(c, T0 + DAY), T0 + DAY)
    return c


def expired_case() -> Case:
    c = measure_case()
    p = c.assert_raised(c.tick(EXPIRES), EXPIRED, 1, EXPIRES)
    assert p.evidence["subject"] == "measure:mp-1" and p.evidence["expires_at"] == EXPIRES.isoformat()
    return c


# -- harm.protective_measure_expired


def test_expiry_boundary_before_at_and_after() -> None:
    assert_boundary(lambda: (measure_case(), EXPIRES), EXPIRED)


def test_the_grace_in_the_policy_moves_the_threshold() -> None:
    c = measure_case(grace="2d")
    c.assert_quiet(c.tick(EXPIRES + 2 * DAY - US), EXPIRED)
    c.assert_raised(c.tick(EXPIRES + 2 * DAY), EXPIRED, 1, EXPIRES + 2 * DAY)


def test_a_renewal_resolves_it_and_the_renewed_measure_expiring_again_is_a_new_episode() -> None:
    c = expired_case()
    t = EXPIRES + 3 * DAY
    c.assert_resolved(c.feed(renewed(c, t, t + 60 * DAY), t), EXPIRED, 1, t, reason="protective measure renewed")
    c.assert_quiet(c.tick(t + 60 * DAY - US), EXPIRED)
    p = c.assert_raised(c.tick(t + 60 * DAY), EXPIRED, 2, t + 60 * DAY)
    assert p.evidence["renewals"] == 1


def test_a_renewal_in_time_raises_nothing_at_the_old_expiry() -> None:
    c = measure_case()
    c.feed(renewed(c, EXPIRES - 2 * DAY, EXPIRES + 90 * DAY), EXPIRES - 2 * DAY)
    c.assert_quiet(c.tick(EXPIRES + DAY), EXPIRED)
    c.assert_raised(c.tick(EXPIRES + 90 * DAY), EXPIRED, 1, EXPIRES + 90 * DAY)


def test_an_older_renewal_arriving_late_does_not_shorten_the_term() -> None:
    c = measure_case()
    c.feed(renewed(c, EXPIRES - DAY, EXPIRES + 90 * DAY), EXPIRES - DAY)
    c.feed(renewed(c, EXPIRES - 5 * DAY, EXPIRES + 10 * DAY), EXPIRES)  # happened first, reported last
    c.assert_quiet(c.tick(EXPIRES + 20 * DAY), EXPIRED)


def test_the_measure_ended_by_the_court_resolves_it() -> None:
    c = expired_case()
    t = EXPIRES + DAY
    c.assert_resolved(c.feed(ended(c, t), t), EXPIRED, 1, t, reason="protective measure ended by the court")
    c.assert_quiet(c.tick(t + 400 * DAY), EXPIRED)


def test_the_case_closing_or_the_prosecution_ending_resolves_it() -> None:
    c = expired_case()
    t = EXPIRES + DAY
    c.assert_resolved(c.feed(c.closed(t), t), EXPIRED, 1, t, reason="case closed")
    c2 = expired_case()
    c2.assert_resolved(c2.feed(c2.archived(t), t), EXPIRED, 1, t, reason="prosecution ended")


def test_one_alert_per_measure_and_none_without_a_term() -> None:
    c = measure_case()
    c.feed(granted(c, T0 + 2 * DAY, EXPIRES + 5 * DAY, mid="mp-2"), T0 + 2 * DAY)
    c.feed(granted(c, T0 + 3 * DAY, None, mid="mp-3"), T0 + 3 * DAY)
    c.assert_raised(c.tick(EXPIRES), EXPIRED, 1, EXPIRES)
    out = c.tick(EXPIRES + 5 * DAY)
    (p,) = out.raised(EXPIRED)
    assert p.evidence["subject"] == "measure:mp-2" and p.episode == 1
    c.assert_quiet(c.tick(EXPIRES + 500 * DAY), EXPIRED)
    assert c.is_open(EXPIRED, "measure:mp-1") and c.is_open(EXPIRED, "measure:mp-2")


def test_the_same_grant_replayed_is_ignored() -> None:
    c = Case(only(EXPIRED))
    c.feed(c.registered(T0), T0)
    event = wrap(granted(c, T0 + DAY), at=T0 + DAY)
    c.feed(event, T0 + DAY)
    assert_duplicate_ignored(c, event, T0 + 2 * DAY)


# -- harm.second_testimony


def statement(c: Case, at: datetime, method: str = "other") -> le.LegalFact:
    return le.TestimonyTaken(**c._legal(at), method=method)  # type: ignore[arg-type,unused-ignore]


def statement_case(**changes: Any) -> Case:
    c = Case(only(AGAIN, **changes))
    c.feed(c.registered(T0), T0)
    return c


def by_hand(c: Case, episode: int, at: datetime) -> AlertResolved:
    return AlertResolved(
        case_id=c.case_id,
        alert_id=alert_id(c.case_id, AGAIN, None, episode),
        rule=AGAIN,
        episode=episode,
        auto=False,
        reason="objection filed",
        by="adv-7",
        resolved_at=at,
    )


def test_a_testimony_after_the_gesell_interview_raises_at_once_and_one_before_it_does_not() -> None:
    c = statement_case()
    c.assert_quiet(c.feed(statement(c, T0 + DAY), T0 + DAY), AGAIN)  # before the interview
    c.assert_quiet(c.feed(statement(c, T0 + 5 * DAY, "camara_gesell"), T0 + 5 * DAY), AGAIN)
    t = T0 + 40 * DAY
    p = c.assert_raised(c.feed(statement(c, t), t), AGAIN, 1, t)
    assert p.evidence["method"] == "other" and p.evidence["camara_gesell_at"] == (T0 + 5 * DAY).isoformat()
    # no fact undoes it: time passing changes nothing
    c.assert_quiet(c.tick(t + 400 * DAY), AGAIN)
    assert c.is_open(AGAIN)


def test_count_threshold_before_at_and_after() -> None:
    c = statement_case(count=2)
    c.feed(statement(c, T0, "camara_gesell"), T0)
    c.assert_quiet(c.feed(statement(c, T0 + DAY), T0 + DAY), AGAIN)  # 1 after: below the threshold
    c.assert_raised(c.feed(statement(c, T0 + 2 * DAY), T0 + 2 * DAY), AGAIN, 1, T0 + 2 * DAY)  # 2: at it
    p = c.assert_raised(c.feed(statement(c, T0 + 3 * DAY), T0 + 3 * DAY), AGAIN, 2, T0 + 3 * DAY)  # 3: beyond
    assert p.evidence["testimonies_after"] == 3


def test_a_second_gesell_interview_is_a_second_testimony_too() -> None:
    c = statement_case()
    c.feed(statement(c, T0, "camara_gesell"), T0)
    p = c.assert_raised(c.feed(statement(c, T0 + DAY, "camara_gesell"), T0 + DAY), AGAIN, 1, T0 + DAY)
    assert p.evidence["method"] == "camara_gesell"


def test_the_interview_reported_late_still_makes_the_later_testimony_a_second_one() -> None:
    c = statement_case()
    c.assert_quiet(c.feed(statement(c, T0 + 10 * DAY), T0 + 10 * DAY), AGAIN)
    t = T0 + 12 * DAY
    c.assert_raised(c.feed(statement(c, T0 + 2 * DAY, "camara_gesell"), t), AGAIN, 1, t)


def test_resolved_by_a_person_and_a_new_testimony_is_a_new_episode() -> None:
    c = statement_case()
    c.feed(statement(c, T0, "camara_gesell"), T0)
    c.assert_raised(c.feed(statement(c, T0 + DAY), T0 + DAY), AGAIN, 1, T0 + DAY)
    c.assert_quiet(c.feed(by_hand(c, 1, T0 + 2 * DAY), T0 + 2 * DAY), AGAIN)
    assert not c.is_open(AGAIN)
    c.assert_quiet(c.tick(T0 + 30 * DAY), AGAIN)  # the same testimony never raises again
    c.assert_raised(c.feed(statement(c, T0 + 40 * DAY), T0 + 40 * DAY), AGAIN, 2, T0 + 40 * DAY)


def test_disabled_rule_raises_nothing() -> None:
    c = statement_case(enabled=False)
    c.feed(statement(c, T0, "camara_gesell"), T0)
    c.assert_quiet(c.feed(statement(c, T0 + DAY), T0 + DAY), AGAIN)
