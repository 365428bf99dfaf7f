"""The processor as a real process on the real broker: rules fire on wall-clock time, resolve
themselves, and replays never produce a second alert."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from services.processor.domain.engine import alert_id, lifecycle_event_id
from shared.events import case as ce
from shared.events import encode, new_event
from shared.events import legal as le
from shared.events.alerts import alert_id_for
from shared.kafka import Producer, dlq_headers
from tests.integration.alerts_processor import helpers
from tests.integration.alerts_processor.helpers import (
    alert_events,
    find,
    new_case,
    now,
    producer,
    seconds_policy,
    start_processor,
)
from tests.support import Proc, consumer, drain

pytestmark = pytest.mark.integration

OVERDUE_AFTER = 3.0


@pytest.fixture(scope="module")
def processor(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Proc]:
    policy = seconds_policy(tmp_path_factory.mktemp("policy"), service__overdue=f"{OVERDUE_AFTER:g}s")
    proc = start_processor("alerts-processor", stack_env, log_dir, policy)
    procs.append(proc)
    yield proc
    # stopped with the module: a later module's worker joins the same consumer group (same topic
    # prefix) with a policy of its own, and must not share the partitions with this one
    proc.stop()


@pytest.fixture
def pub(stack_env: dict[str, str]) -> Iterator[Producer]:
    p = producer(stack_env)
    yield p
    p.close()


def send(p: Producer, topic: str, *envelopes: object) -> None:
    for env in envelopes:
        p.publish(topic, env).get(timeout=15)  # type: ignore[arg-type]


def registered(case_id: str, advocate: str = "adv-it") -> object:
    return new_event(helpers.registered(case_id, "org-it", advocate))


def test_service_overdue_raised_after_threshold_then_resolved_by_session(
    processor: Proc, pub: Producer, stack_env: dict[str, str]
) -> None:
    case_id = new_case()
    due = now()
    planned = helpers.service_planned(
        case_id, due, service_id="svc-1", provider_org_id="org-prov", sessions_planned=1, planned_at=due
    )
    send(pub, "case-events", registered(case_id), new_event(planned))
    with consumer(stack_env, "alerts") as c:
        recs = drain(c, lambda rs: bool(find(rs, case_id, ".raised", "service.overdue")), timeout=60)
    raised = find(recs, case_id, ".raised", "service.overdue")
    assert len(raised) == 1
    alert = raised[0].payload
    # one alert per late service: its id is (case, rule, subject, episode)
    assert alert.evidence["subject"] == "service:svc-1"  # type: ignore[attr-defined]
    assert alert.alert_id == alert_id(case_id, "service.overdue", "service:svc-1", 1)  # type: ignore[attr-defined]
    assert alert.severity == "medium" and alert.advocate_id == "adv-it" and alert.org_id == "org-it"  # type: ignore[attr-defined]
    # wall clock, not stream time: nothing before due + threshold
    assert alert.raised_at >= due + timedelta(seconds=OVERDUE_AFTER)  # type: ignore[attr-defined]
    assert alert.evidence["services"][0]["service_id"] == "svc-1"  # type: ignore[attr-defined]
    assert "psychosocial" in alert.summary  # type: ignore[attr-defined]

    session = ce.SessionRecorded(
        case_id=case_id,
        service_id="svc-1",
        session_id="ses-1",
        service_kind="psychosocial",
        outcome="attended",
        occurred_at=now(),
        recorded_at=now(),
    )
    send(pub, "case-events", new_event(session))
    with consumer(stack_env, "alerts") as c:
        recs = drain(c, lambda rs: bool(find(rs, case_id, ".resolved", "service.overdue")), timeout=30)
    resolved = find(recs, case_id, ".resolved", "service.overdue")
    assert len(resolved) == 1
    assert resolved[0].payload.alert_id == alert.alert_id  # type: ignore[attr-defined]
    assert resolved[0].payload.auto is True  # type: ignore[attr-defined]
    assert resolved[0].payload.reason == "session recorded"  # type: ignore[attr-defined]
    assert resolved[0].id == lifecycle_event_id(alert.alert_id, "resolved")  # type: ignore[attr-defined]


def test_stage_overdue_raised_when_deadline_passes(processor: Proc, pub: Producer, stack_env: dict[str, str]) -> None:
    case_id = new_case()
    started = now()
    deadline = started + timedelta(seconds=3)
    stage = le.StageChanged(
        case_id=case_id,
        source_system="court-it",
        update_id="u-1",
        occurred_at=started,
        stage="preliminary_investigation",
        previous_stage="complaint_filed",
        stage_started_at=started,
        deadline_at=deadline,
    )
    stage_event = new_event(stage)
    send(pub, "case-events", registered(case_id))
    send(pub, "legal-events", stage_event)
    with consumer(stack_env, "alerts") as c:
        recs = drain(c, lambda rs: bool(find(rs, case_id, ".raised", "legal.stage_overdue")), timeout=60)
    alert = find(recs, case_id, ".raised", "legal.stage_overdue")[0].payload
    assert alert.raised_at >= deadline  # type: ignore[attr-defined]
    assert alert.severity == "high"  # type: ignore[attr-defined]
    assert alert.evidence["deadline_at"] == deadline.isoformat()  # type: ignore[attr-defined]
    assert alert.evidence["event_ids"] == [stage_event.id]  # type: ignore[attr-defined]
    assert alert.evidence["stage"] == "preliminary_investigation"  # type: ignore[attr-defined]

    # the court update arrives: the prosecution moved on, the alert resolves itself
    moved = le.StageChanged(
        case_id=case_id,
        source_system="court-it",
        update_id="u-2",
        occurred_at=now(),
        stage="preparatory_investigation",
        previous_stage="preliminary_investigation",
        stage_started_at=now(),
        deadline_at=now() + timedelta(days=120),
    )
    send(pub, "legal-events", new_event(moved))
    with consumer(stack_env, "alerts") as c:
        recs = drain(c, lambda rs: bool(find(rs, case_id, ".resolved", "legal.stage_overdue")), timeout=30)
    res = find(recs, case_id, ".resolved", "legal.stage_overdue")[0].payload
    assert res.auto is True and "court update" in res.reason  # type: ignore[attr-defined]


def test_risk_flag_raises_at_once_and_replay_produces_no_second_alert(
    processor: Proc, pub: Producer, stack_env: dict[str, str]
) -> None:
    case_id = new_case()
    inputs = [
        registered(case_id),
        new_event(
            ce.RiskFlagged(case_id=case_id, flag_id="f-1", kind="threat_received", severity="high", raised_at=now())
        ),
    ]
    send(pub, "case-events", *inputs)
    with consumer(stack_env, "alerts") as c:
        recs = drain(c, lambda rs: bool(find(rs, case_id, ".raised", "risk.revictimisation")), timeout=30)
    first = find(recs, case_id, ".raised", "risk.revictimisation")
    assert [e.payload.alert_id for e in first] == [alert_id_for(case_id, "risk.revictimisation", 1)]  # type: ignore[attr-defined]
    assert first[0].payload.severity == "critical"  # type: ignore[attr-defined]
    assert "threat_received" in first[0].payload.summary  # type: ignore[attr-defined]

    # replay the very same envelopes (same event ids), then a marker that must produce episode 2:
    # once the marker's alert is out, the replays (same partition, earlier offsets) were processed
    send(pub, "case-events", *inputs)
    marker = new_event(
        ce.RiskFlagged(case_id=case_id, flag_id="f-2", kind="runaway_missing", severity="critical", raised_at=now())
    )
    send(pub, "case-events", marker)
    second_id = alert_id_for(case_id, "risk.revictimisation", 2)
    with consumer(stack_env, "alerts") as c:
        recs = drain(
            c,
            lambda rs: any(
                e.payload.alert_id == second_id  # type: ignore[attr-defined]
                for e in find(rs, case_id, ".raised", "risk.revictimisation")
            ),
            timeout=30,
        )
    raised = find(recs, case_id, ".raised", "risk.revictimisation")
    ids = [e.payload.alert_id for e in raised]  # type: ignore[attr-defined]
    assert sorted(ids) == sorted([alert_id_for(case_id, "risk.revictimisation", 1), second_id])
    assert [e.type for e in alert_events(recs, case_id)].count("centinela.alert.raised") == 2


def test_undecodable_record_goes_to_dlq_and_processing_continues(
    processor: Proc, pub: Producer, stack_env: dict[str, str]
) -> None:
    bad_key = new_case()
    pub.send_raw("case-events", bad_key.encode(), b"{not json").get(timeout=15)
    case_id = new_case()
    send(
        pub,
        "case-events",
        new_event(ce.RiskFlagged(case_id=case_id, flag_id="f", kind="other", severity="low", raised_at=now())),
    )
    with consumer(stack_env, "case-events.dlq") as c:
        dead = drain(c, lambda rs: any(r.key == bad_key.encode() for r in rs), timeout=30)
    rec = next(r for r in dead if r.key == bad_key.encode())
    headers = dlq_headers(rec.headers)
    assert headers["dlq.reason"].startswith("not JSON")
    assert headers["dlq.source.topic"].endswith("case-events")
    assert rec.value == b"{not json"
    with consumer(stack_env, "alerts") as c:
        drain(c, lambda rs: bool(find(rs, case_id, ".raised", "risk.revictimisation")), timeout=30)


def test_poison_event_goes_to_dlq_after_a_few_attempts_and_the_rest_flows(
    processor: Proc, pub: Producer, stack_env: dict[str, str]
) -> None:
    """Issue 10 item 2: a record that decodes but can never be processed (a due date the processor
    cannot convert to UTC) is parked in case-events.dlq with its reason; the 12 valid records behind
    it are processed within seconds and the processor stays ready."""
    import time
    from datetime import datetime, timezone

    import httpx

    poison_case = new_case()
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))
    kind = {"service_kind": "health_checkup", "spl_type": "Health"}
    poison = helpers.service_planned(poison_case, far, service_id="svc-x", provider_org_id="org-prov", **kind)
    pub.send_raw("case-events", poison_case.encode(), encode(new_event(poison))).get(timeout=15)
    valid = [new_case() for _ in range(12)]
    started = time.monotonic()
    for case_id in valid:
        flag = ce.RiskFlagged(case_id=case_id, flag_id="f", kind="other", severity="low", raised_at=now())
        pub.publish("case-events", new_event(flag))
    pub.flush(timeout=15)
    with consumer(stack_env, "case-events.dlq") as c:
        dead = drain(c, lambda rs: any(r.key == poison_case.encode() for r in rs), timeout=60)
    headers = dlq_headers(next(r for r in dead if r.key == poison_case.encode()).headers)
    assert headers["dlq.reason"]  # the decoder or the processor says why
    assert "9999" not in headers["dlq.reason"]  # a reason, never the value
    with consumer(stack_env, "alerts") as c:
        recs = drain(c, lambda rs: all(find(rs, cid, ".raised", "risk.revictimisation") for cid in valid), timeout=30)
    assert all(len(find(recs, cid, ".raised", "risk.revictimisation")) == 1 for cid in valid)
    assert time.monotonic() - started < 30
    assert httpx.get(processor.url + "/readyz", timeout=5).status_code == 200
    body = httpx.get(processor.url + "/metrics", timeout=5).text
    assert "centinela_processor_consumer_stuck 0.0" in body


def test_metrics_exposed(processor: Proc) -> None:
    import httpx

    body = httpx.get(processor.url + "/metrics", timeout=5).text
    for name in (
        "centinela_alerts_alerts_raised_total",
        "centinela_alerts_events_processed_total",
        "centinela_alerts_rule_evaluation_seconds",
        "centinela_alerts_deadline_heap_size",
        "centinela_alerts_last_tick_timestamp_seconds",
    ):
        assert name in body
    tick = [line for line in body.splitlines() if line.startswith("centinela_alerts_last_tick_timestamp_seconds ")]
    assert tick and float(tick[0].split()[1]) > 0
