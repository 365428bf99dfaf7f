"""Cross-rule behaviour of engine.step: the deadline it hands the heap, replays, policy changes."""

from __future__ import annotations

import pytest

from services.processor.domain.engine import due_for, step
from services.processor.domain.policy import RULE_IDS, parse_policy
from services.processor.domain.rules import RULES
from shared.events import encode
from tests.unit.alerts_rules.support import DAY, DEFAULT, T0, US, Case, policy_doc, wrap


def test_every_configured_rule_is_implemented_and_every_implemented_rule_is_configured():
    assert set(RULES) == set(RULE_IDS) == set(DEFAULT.rules)


def test_next_due_is_the_earliest_deadline_of_all_rules():
    c = Case()
    # registration starts three clocks: no_representation 7d, no_psychosocial 30d, contact_lost 45d
    assert c.feed(c.registered(T0), T0).next_due == T0 + 7 * DAY
    t = T0 + DAY
    assert c.feed(c.representation_assigned(t), t).next_due == T0 + 30 * DAY
    c.feed(c.hearing_scheduled("h-1", T0 + 10 * DAY, t), t)
    # legal.hearing_upcoming reminds 3 days before the hearing; outcome_missing 2 days after it
    assert c.tick(t).next_due == T0 + 7 * DAY
    assert c.tick(T0 + 7 * DAY).next_due == T0 + 10 * DAY
    assert c.tick(T0 + 10 * DAY).next_due == T0 + 12 * DAY


def test_next_due_moves_past_a_deadline_once_it_fired():
    c = Case()
    c.feed(c.registered(T0), T0)
    out = c.tick(T0 + 7 * DAY)
    c.assert_raised(out, "legal.no_representation", 1, T0 + 7 * DAY)
    assert out.next_due == T0 + 30 * DAY


def test_a_duplicate_event_is_reported_as_not_applied():
    c = Case()
    reg = wrap(c.registered(T0), at=T0)
    c.feed(reg, T0)
    out = c.feed(reg, T0 + DAY)
    assert out.step.applied is False
    assert out.events == []
    # the glue must keep the case's existing deadline: a skipped duplicate reports none
    assert out.next_due is None


def test_replaying_a_step_emits_byte_identical_facts():
    c = Case()
    c.feed(c.registered(T0), T0)
    before = c.state
    flag = wrap(c.risk_flag(T0 + DAY), at=T0 + DAY)
    first = step(before, flag, T0 + DAY, DEFAULT)
    again = step(before, flag, T0 + DAY, DEFAULT)
    assert first.emissions
    assert [encode(e) for e in first.emissions] == [encode(e) for e in again.emissions]


def test_disabling_a_rule_resolves_its_open_alert():
    c = Case()
    c.feed(c.registered(T0), T0)
    c.assert_raised(c.tick(T0 + 7 * DAY), "legal.no_representation", 1, T0 + 7 * DAY)
    doc = policy_doc()
    doc["rules"]["legal.no_representation"]["enabled"] = False
    c.policy = parse_policy(doc)
    t = T0 + 8 * DAY
    c.assert_resolved(c.tick(t), "legal.no_representation", 1, t, reason="rule disabled in the alert policy")


def test_due_for_says_now_when_a_deadline_passed_unobserved():
    c = Case()
    c.feed(c.registered(T0), T0)
    assert c.state is not None
    assert due_for(c.state, T0 + DAY, DEFAULT) == T0 + 7 * DAY
    assert due_for(c.state, T0 + 7 * DAY - US, DEFAULT) == T0 + 7 * DAY
    late = T0 + 7 * DAY + US
    assert due_for(c.state, late, DEFAULT) == late


def test_a_clock_tick_without_state_needs_the_case_id():
    with pytest.raises(ValueError, match="case_id"):
        step(None, None, T0, DEFAULT)
    out = step(None, None, T0, DEFAULT, case_id="case-x")
    assert out.emissions == [] and out.next_due is None
