"""risk.revictimisation: fires on the signal itself (one episode per distinct signal) and never auto-resolves."""

from __future__ import annotations

from shared.events.alerts import alert_id_for
from tests.unit.alerts_rules.support import (
    DAY,
    T0,
    US,
    Case,
    assert_duplicate_ignored,
    edited,
    only,
    wrap,
)

RISK = "risk.revictimisation"


def _registered(policy=None):
    c = Case(policy) if policy else Case()
    c.feed(c.registered(T0), T0)
    return c


def test_no_signal_no_alert():
    c = _registered()  # count - 1 = 0 signals
    c.assert_quiet(c.tick(T0 + 500 * DAY), RISK)


def test_a_risk_flag_raises_at_once():
    c = _registered()
    t = T0 + 3 * DAY
    p = c.assert_raised(c.feed(c.risk_flag(t, flag_id="flag-a"), t), RISK, 1, t)
    assert p.severity == "critical"  # the rule's severity from the policy, not the flag's
    assert p.evidence["signal_id"] == "flag-a"
    assert p.evidence["signal_severity"] == "high"
    c.assert_quiet(c.tick(t + US), RISK)
    c.assert_quiet(c.tick(t + 300 * DAY), RISK)
    assert c.is_open(RISK)


def test_a_reregistration_raises_at_once():
    c = _registered()
    t = T0 + DAY
    p = c.assert_raised(c.feed(c.reregistered(t), t), RISK, 1, t)
    assert p.evidence["signal"] == "reregistered"
    assert "pr_" not in p.summary  # the person_ref stays out of the alert text


def test_has_no_deadline():
    c = Case(only(RISK))
    assert c.feed(c.registered(T0), T0).next_due is None
    assert c.feed(c.risk_flag(T0), T0).next_due is None


def test_min_flag_severity_from_the_policy_is_the_threshold():
    c = _registered(edited(RISK, min_flag_severity="high"))
    t = T0 + DAY
    c.assert_quiet(c.feed(c.risk_flag(t, severity="medium"), t), RISK)  # just below the floor
    c.assert_raised(c.feed(c.risk_flag(t + DAY, severity="high"), t + DAY), RISK, 1, t + DAY)  # at the floor
    c.assert_raised(c.feed(c.risk_flag(t + 2 * DAY, severity="critical"), t + 2 * DAY), RISK, 2, t + 2 * DAY)


def test_never_auto_resolves_a_person_decides():
    # DESIGN/lifecycle: no fact says a risk is over; only an advocate resolves it in the alerts service
    c = _registered()
    c.assert_raised(c.feed(c.risk_flag(T0 + DAY), T0 + DAY), RISK, 1, T0 + DAY)
    for t in (T0 + 2 * DAY, T0 + 400 * DAY):
        c.assert_quiet(c.tick(t), RISK)
    t = T0 + 401 * DAY
    c.feed(c.service_planned("psy-1", t, kind="psychosocial_care"), t)
    c.assert_quiet(c.feed(c.session("psy-1", "attended", t, kind="psychosocial_care"), t), RISK)
    c.assert_quiet(c.feed(c.closed(t + DAY), t + DAY), RISK)
    assert c.is_open(RISK)


def test_a_new_signal_opens_a_new_episode():
    c = _registered()
    c.assert_raised(c.feed(c.risk_flag(T0 + DAY, flag_id="flag-a"), T0 + DAY), RISK, 1, T0 + DAY)
    t = T0 + 10 * DAY
    p2 = c.assert_raised(c.feed(c.reregistered(t), t), RISK, 2, t)
    assert p2.alert_id != alert_id_for(c.case_id, RISK, 1)
    p3 = c.assert_raised(c.feed(c.risk_flag(t + DAY, flag_id="flag-b"), t + DAY), RISK, 3, t + DAY)
    assert p3.evidence["signal_id"] == "flag-b"


def test_duplicate_and_corrected_flags_change_nothing():
    c = _registered()
    flag = wrap(c.risk_flag(T0 + DAY, flag_id="flag-a"), at=T0 + DAY)
    c.assert_raised(c.feed(flag, T0 + DAY), RISK, 1, T0 + DAY)
    assert_duplicate_ignored(c, flag, T0 + 2 * DAY)
    # the same flag re-published under a new event id (e.g. edited in intake) is not a new signal
    c.assert_quiet(c.feed(c.risk_flag(T0 + DAY, flag_id="flag-a", severity="critical"), T0 + 2 * DAY), RISK)
    rereg = wrap(c.reregistered(T0 + 3 * DAY), at=T0 + 3 * DAY)
    c.assert_raised(c.feed(rereg, T0 + 3 * DAY), RISK, 2, T0 + 3 * DAY)
    assert_duplicate_ignored(c, rereg, T0 + 4 * DAY)
    assert c.state is not None and c.state.alerts[RISK].episode == 2
