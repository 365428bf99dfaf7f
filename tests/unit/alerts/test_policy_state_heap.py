"""Policy loading / reload / invalid file, state folding idempotency, the deadline heap."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from services.processor.deadlines import DeadlineHeap
from services.processor.domain.policy import (
    DEFAULT_POLICY_FILE,
    PolicyError,
    PolicyWatcher,
    load_policy,
    parse_duration,
)
from services.processor.domain.state import MAX_SEEN_EVENT_IDS, CaseState, fold
from shared.events import case as ce
from shared.events import decode, encode, new_event
from tests.unit.alerts.conftest import T0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90d", 90 * 86400),
        ("2d", 172800),
        ("4h", 14400),
        ("30min", 1800),
        ("3s", 3),
        ("500ms", 0.5),
        ("1w", 604800),
        ("1mo", 30 * 86400),
        ("1y", 365 * 86400),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text, where="p.yaml: rules.x.after").total_seconds() == seconds


# one grammar with deadlines.yaml (shared.durations): a bare number and "m" are refused
@pytest.mark.parametrize("bad", ["2 days", "-3s", "d", "", True, -1, 5, "90", "30m", None])
def test_parse_duration_rejects(bad: object) -> None:
    with pytest.raises(ValueError, match="duration|unit|ambiguous"):
        parse_duration(bad, where="p.yaml: rules.x.after")


def test_default_policy_matches_design(policy: object) -> None:
    p = load_policy()
    assert p.rule("legal.no_activity").after == timedelta(days=90)
    assert p.rule("service.overdue").after == timedelta(days=2)
    assert p.rule("legal.hearing_postponed_repeatedly").count == 3
    assert p.rule("risk.revictimisation").severity == "critical"
    assert p.rule("followup.overdue").schedule_after_closure == (
        timedelta(days=90),
        timedelta(days=180),
        timedelta(days=365),
    )
    assert p.escalation_after("critical") == timedelta(hours=1)
    assert p.escalation_after("high") == timedelta(hours=4)
    assert p.escalation_after("nonsense") is None


def write(path: Path, doc: object) -> None:
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, str) else doc)


def default_doc() -> dict:
    return yaml.safe_load(DEFAULT_POLICY_FILE.read_text())


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["rules"]["service.overdue"].update(after="two days"), "rules.service.overdue.after"),
        (lambda d: d["rules"]["service.overdue"].update(severity="urgent"), "rules.service.overdue.severity"),
        (lambda d: d["rules"]["service.overdue"].update(after=2), "rules.service.overdue.after"),
        (lambda d: d["rules"]["service.overdue"].update(after="2m"), "rules.service.overdue.after"),
        (lambda d: d["rules"].update({"made.up": {"severity": "low"}}), "rules.made.up"),
        (lambda d: d["rules"]["legal.no_activity"].update(after=None), "rules.legal.no_activity.after"),
        (lambda d: d["escalation"].update(high="soon"), "escalation.high"),
        (lambda d: d["escalation"].update(high=4), "escalation.high"),
        (
            lambda d: d["rules"]["followup.overdue"].update(schedule_after_closure=["90d", "6"]),
            "schedule_after_closure.1",
        ),
        (lambda d: d["rules"]["service.overdue"].update(typo=1), "typo"),
    ],
)
def test_invalid_policy_names_the_field(tmp_path: Path, mutate: object, field: str) -> None:
    doc = default_doc()
    mutate(doc)  # type: ignore[operator]
    path = tmp_path / "p.yaml"
    write(path, doc)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert field in str(err.value)
    assert str(path) in str(err.value)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed\n")
    with pytest.raises(PolicyError, match="not valid YAML"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "absent.yaml")


def test_watcher_reloads_on_change_and_keeps_old_policy_on_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    doc = default_doc()
    write(path, doc)
    w = PolicyWatcher(path)
    assert not w.check()  # unchanged: nothing to do
    doc["rules"]["service.overdue"]["after"] = "3s"
    write(path, doc)
    os.utime(path, ns=(1, 10**18))  # a distinct mtime even on coarse filesystems
    assert w.check()
    assert w.policy.rule("service.overdue").after == timedelta(seconds=3)
    path.write_text("rules: {service.overdue: {severity: nope}}\n")
    os.utime(path, ns=(1, 2 * 10**18))
    assert not w.check()
    assert w.policy.rule("service.overdue").after == timedelta(seconds=3)  # the old one stays
    assert w.last_error and "rules" in w.last_error
    assert w.failures == 1
    assert not w.check()  # the same broken file is not reported again
    assert w.failures == 1


def registered_event() -> object:
    return decode(encode(new_event(ce.CaseRegistered(case_id="c1", org_id="o", registered_at=T0), time=T0)))


def test_fold_is_idempotent_by_event_id() -> None:
    e = registered_event()
    s1, applied1 = fold(None, e, partition=2)  # type: ignore[arg-type]
    s2, applied2 = fold(s1, e)  # type: ignore[arg-type]
    assert applied1 and not applied2
    assert s2 == s1 and s1.partition == 2 and s1.org_id == "o"


def test_state_round_trips_through_json() -> None:
    s, _ = fold(None, registered_event())  # type: ignore[arg-type]
    assert CaseState.from_json(s.to_json()) == s


def test_seen_ids_are_bounded() -> None:
    st: CaseState | None = None
    for i in range(MAX_SEEN_EVENT_IDS + 10):
        upd = ce.CaseUpdated(case_id="c1", changed_fields=["region"], updated_at=T0)
        st, _ = fold(st, decode(encode(new_event(upd, event_id=f"e{i}"))))
    assert st is not None and len(st.seen_ids) == MAX_SEEN_EVENT_IDS * 8  # 8-byte hashes of the newest ids
    assert st.seen(f"e{MAX_SEEN_EVENT_IDS + 9}") and not st.seen("e0")


def test_heap_pops_only_due_and_drops_superseded() -> None:
    h = DeadlineHeap(retry_after=timedelta(hours=1))  # no re-send inside this test's minute
    h.schedule("a", T0 + timedelta(seconds=5), 0)
    h.schedule("b", T0 + timedelta(seconds=1), 1)
    h.schedule("c", T0 + timedelta(seconds=3), 2)
    h.schedule("b", T0 + timedelta(seconds=10), 1)  # rescheduled: the old entry is stale
    assert h.pop_due(T0) == []
    assert h.pop_due(T0 + timedelta(seconds=4)) == [("c", T0 + timedelta(seconds=3), 2)]
    assert len(h) == 2
    h.schedule("a", None, 0)  # cleared
    assert h.pop_due(T0 + timedelta(seconds=60)) == [("b", T0 + timedelta(seconds=10), 1)]
    assert len(h) == 0 and h.next_due() is None


def test_heap_drop_partitions_and_rebuild() -> None:
    h = DeadlineHeap()
    for i in range(6):
        h.schedule(f"c{i}", T0 + timedelta(seconds=i), i % 3)
    h.drop_partitions({1})
    assert {c for c, _, _ in h.pop_due(T0 + timedelta(days=1))} == {"c0", "c2", "c3", "c5"}
    h.rebuild([("x", T0, 0), ("y", None, 1)])
    assert len(h) == 1 and h.next_due() == T0


def test_heap_limit_leaves_the_rest_for_the_next_tick() -> None:
    h = DeadlineHeap()
    for i in range(5):
        h.schedule(f"c{i}", T0, 0)
    assert len(h.pop_due(T0, limit=2)) == 2
    assert len(h) == 3


def test_heap_hands_out_an_unanswered_deadline_again() -> None:
    h = DeadlineHeap(retry_after=timedelta(seconds=10))
    h.schedule("a", T0, 0)
    h.schedule("b", T0, 1)
    assert {c for c, _, _ in h.pop_due(T0)} == {"a", "b"}
    assert h.in_flight == 2 and len(h) == 0
    h.schedule("a", T0 + timedelta(days=1), 0)  # the agent evaluated a's tick and rescheduled it
    assert h.pop_due(T0 + timedelta(seconds=9)) == []
    assert h.pop_due(T0 + timedelta(seconds=10)) == [("b", T0, 1)]  # b's tick never came back
    assert h.retried == 1
    h.schedule("b", None, 1)  # answered at last: nothing more to send
    assert h.pop_due(T0 + timedelta(hours=1)) == [] and h.in_flight == 0


def test_heap_in_flight_deadlines_leave_with_their_partition() -> None:
    h = DeadlineHeap(retry_after=timedelta(seconds=10))
    h.schedule("a", T0, 0)
    h.schedule("b", T0, 1)
    h.pop_due(T0)
    h.drop_partitions({1})
    assert h.pop_due(T0 + timedelta(minutes=1)) == [("a", T0, 0)]
    h.rebuild([])
    assert h.in_flight == 0


def test_heap_does_not_resend_a_tick_still_waiting_in_line() -> None:
    h = DeadlineHeap(retry_after=timedelta(seconds=10))
    h.schedule("a", T0, 2)
    h.pop_due(T0)
    h.sent("a", T0, offset=40)
    waiting = {2: 35}  # the agent has been handed offsets up to 34 on ticks partition 2

    def queued(partition: int, offset: int) -> bool:
        return waiting[partition] <= offset

    assert h.pop_due(T0 + timedelta(seconds=10), queued=queued) == []  # late, not lost
    waiting[2] = 41  # the agent went past it without answering: lost
    assert h.pop_due(T0 + timedelta(seconds=20), queued=queued) == [("a", T0, 2)]


def test_every_shipped_rule_has_a_spanish_and_english_description_and_a_basis() -> None:
    policy = load_policy(None)
    for rule_id, cfg in policy.rules.items():
        assert cfg.description.get("es") and cfg.description.get("en"), rule_id
        assert cfg.basis, rule_id


def test_time_zone_is_the_organisations_and_bad_zones_are_refused(tmp_path: Path) -> None:
    assert load_policy(None).timezone == "America/Lima"
    assert load_policy(None).rule("followup.overdue").timezone == "America/Lima"
    good = tmp_path / "tz.yaml"
    good.write_text("organisation: {time_zone: Europe/Madrid}\nrules: {}\n", encoding="utf-8")
    policy = load_policy(good)
    assert policy.timezone == "Europe/Madrid" and policy.rule("followup.overdue").timezone == "Europe/Madrid"
    assert policy.describe()["timezone"] == "Europe/Madrid"
    bad = tmp_path / "bad.yaml"
    bad.write_text("organisation: {time_zone: Lima/Nowhere}\nrules: {}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="organisation.time_zone"):
        load_policy(bad)
    bad.write_text("rules:\n  legal.hearing_upcoming: {lead_times: [3]}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match="lead_times"):
        load_policy(bad)


def test_policy_reexports_the_shared_duration_and_severity_helpers() -> None:
    from services.processor.domain import policy as pol
    from shared import durations, vocab

    assert pol.parse_duration is durations.parse_duration
    assert pol.format_duration is durations.format_duration
    assert pol.SEVERITIES is vocab.SEVERITIES


def test_state_closed_statuses_come_from_the_vocabulary() -> None:
    from services.processor.domain import state
    from shared import vocab

    assert state.CLOSED_STATUSES is vocab.CLOSED_STATUSES


def test_reminders_do_not_escalate_and_other_rules_do() -> None:
    policy = load_policy(None)
    assert not policy.escalates("legal.deadline_approaching")
    assert not policy.escalates("legal.hearing_upcoming")
    assert policy.escalates("legal.stage_overdue")
    assert policy.describe()["rules"]["legal.hearing_upcoming"]["escalate"] is False
