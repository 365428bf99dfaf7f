"""Issue 18 items 1-2 (domain side): back-dated batches raise nothing for conditions already over, nothing
flashes, and an open alert's summary/evidence is republished when it changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.processor.domain.engine import step, step_many
from services.processor.domain.policy import Policy, parse_policy
from shared.events import EventPayload
from tests.unit.alerts_rules.support import DAY, T0, US, Case, only, policy_doc, wrap

NO_ACT = "legal.no_activity"
OUTCOME = "legal.hearing_outcome_missing"
POSTPONED = "legal.hearing_postponed_repeatedly"
SVC = "service.overdue"
NOW = T0 + 3 * 365 * DAY


def _history(c: Case, *, batch: str | None, gap_at_end: bool = False) -> list[EventPayload]:
    """Three years of a prosecution, every update 30 days apart (with one 200-day stall in the middle),
    each hearing with its outcome: no condition is still going on at NOW unless ``gap_at_end``."""
    items: list[EventPayload] = [c.stage_changed("preliminary_investigation", T0, T0 + 60 * DAY)]
    t = T0
    k = 0
    end = NOW - (120 * DAY if gap_at_end else 10 * DAY)
    while t < end:
        t += (200 if k == 10 else 30) * DAY
        k += 1
        items.append(c.hearing_scheduled(f"h-{k}", t, t - DAY))
        items.append(c.hearing_held(f"h-{k}", t))
    if batch:
        items = [
            p.model_copy(update={"batch_id": batch, "batch_last": i == len(items) - 1}) for i, p in enumerate(items)
        ]
    return items


def _feed_all(c: Case, items: list[EventPayload], now: datetime) -> list[Any]:
    events = []
    for p in items:
        events += c.feed(p, now).events
    return events


def test_without_batch_marks_the_old_engine_flashes() -> None:
    # what issue 18 reported: each back-dated update evaluated at once raises and resolves no_activity
    c = Case(only(NO_ACT))
    c.feed(c.registered(T0 - DAY), T0 - DAY)
    events = _feed_all(c, _history(c, batch=None), NOW)
    assert any(e.type == "centinela.alert.raised" for e in events)


def test_a_back_dated_batch_raises_nothing_for_conditions_over_before_now() -> None:
    for rule in (NO_ACT, OUTCOME, POSTPONED):
        c = Case(only(rule))
        c.feed(c.registered(T0 - DAY), T0 - DAY)
        items = _history(c, batch="b-1")
        events = _feed_all(c, items, NOW)
        assert events == [], rule
        assert c.state is not None and not c.state.batch_pending


def test_a_back_dated_batch_raises_what_is_still_going_on_at_its_end() -> None:
    c = Case(only(NO_ACT))
    c.feed(c.registered(T0 - DAY), T0 - DAY)
    items = _history(c, batch="b-2", gap_at_end=True)
    outs = [c.feed(p, NOW) for p in items]
    assert all(o.events == [] for o in outs[:-1])
    assert [p.rule for p in outs[-1].raised(NO_ACT)] == [NO_ACT]  # evaluated once, at the batch's end
    assert outs[-1].raised(NO_ACT)[0].raised_at == NOW


def test_a_batch_whose_end_never_arrives_is_evaluated_after_the_grace() -> None:
    c = Case(only(NO_ACT))
    c.feed(c.registered(T0 - DAY), T0 - DAY)
    items = _history(c, batch="b-3", gap_at_end=True)[:-1]  # the last fact (batch_last) is lost
    outs = [c.feed(p, NOW) for p in items]
    grace = c.policy.batch_grace
    assert outs[-1].next_due == NOW + grace
    c.assert_quiet(c.tick(NOW + grace - US), NO_ACT)  # mid-batch: a tick does not evaluate a half batch
    c.assert_raised(c.tick(NOW + grace), NO_ACT, 1, NOW + grace)


def test_step_many_folds_everything_then_evaluates_once() -> None:
    c = Case(only(NO_ACT))
    c.feed(c.registered(T0 - DAY), T0 - DAY)
    events = [wrap(p) for p in _history(c, batch=None)]
    result = step_many(c.state, events, NOW, c.policy)
    assert result.emissions == [] and result.applied
    again = step_many(result.state, events, NOW, c.policy)  # a replay: nothing new
    assert again.emissions == [] and not again.applied


def _with_updates() -> Policy:
    doc = policy_doc()
    doc["publish_alert_updates"] = True
    for rid in doc["rules"]:
        doc["rules"][rid]["enabled"] = rid == POSTPONED
    return parse_policy(doc)


def test_the_summary_of_an_open_alert_follows_its_evidence() -> None:
    c = Case(_with_updates())
    c.feed(c.registered(T0), T0)
    c.feed(c.stage_changed("trial", T0), T0)
    for k in (1, 2):
        c.feed(c.hearing_postponed(f"h-{k}", k, T0 + k * DAY, new_date=T0 + 40 * DAY), T0 + k * DAY)
    t = T0 + 3 * DAY
    raised = c.assert_raised(c.feed(c.hearing_postponed("h-3", 3, t, new_date=t + DAY), t), POSTPONED, 1, t)
    assert raised.evidence["postponements_in_stage"] == 3
    assert c.tick(t + DAY).events == []  # nothing changed: nothing said
    t2 = t + 2 * DAY
    out = c.feed(c.hearing_postponed("h-4", 4, t2, new_date=t2 + DAY), t2)
    updates = [e.payload for e in out.events if e.type == "centinela.alert.updated"]
    assert len(updates) == 1
    u: Any = updates[0]
    assert u.alert_id == raised.alert_id and u.episode == 1 and u.changed == ["evidence"]
    assert u.evidence["postponements_in_stage"] == 4 and "4 hearing postponements" in u.summary
    assert u.updated_at == t2
    # replaying the computation publishes the same fact id (a consumer drops the duplicate)
    assert c.state is not None
    replay = step(c.state, None, t2 + US, c.policy)
    assert replay.emissions == []


def test_a_raise_and_resolve_inside_one_evaluation_is_not_published() -> None:
    from services.processor.domain.engine import _without_flashes, lifecycle_event_id
    from shared.events import new_event
    from shared.events.alerts import AlertRaised, AlertResolved, alert_id_for

    aid = alert_id_for("c-1", SVC, 1)
    raised = new_event(
        AlertRaised(case_id="c-1", alert_id=aid, rule=SVC, episode=1, severity="low", summary="x", raised_at=NOW),
        event_id=lifecycle_event_id(aid, "raised"),
    )
    resolved = new_event(
        AlertResolved(case_id="c-1", alert_id=aid, rule=SVC, episode=1, auto=True, reason="r", resolved_at=NOW),
        event_id=lifecycle_event_id(aid, "resolved"),
    )
    other = alert_id_for("c-1", NO_ACT, 1)
    kept = new_event(
        AlertRaised(case_id="c-1", alert_id=other, rule=NO_ACT, episode=1, severity="low", summary="y", raised_at=NOW)
    )
    assert _without_flashes([raised, kept, resolved]) == [kept]
