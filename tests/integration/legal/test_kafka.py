"""The Kafka way in: the same JSON on court-updates, poison to court-updates.dlq, processing goes on."""

from __future__ import annotations

import json

import httpx
import pytest

from shared.kafka import dlq_headers
from shared.topics import COURT_UPDATES
from tests.integration.legal.conftest import new_id, post, readable_timeline, register_case, update
from tests.integration.legal.test_rest import legal_events
from tests.support import consumer, drain, wait_for

pytestmark = pytest.mark.integration


def send(producer, case_id: str, value: bytes):
    return producer.send_raw(COURT_UPDATES, case_id.encode(), value).get(timeout=30)


def test_poison_goes_to_dlq_and_good_messages_after_it_are_processed(legal, tokens, producer, stack_env):
    case_id = new_id("c")
    poison = [
        b"{not json",
        json.dumps(update(case_id, "hearing_cancelled", "2025-01-02T10:00:00Z")).encode(),
        json.dumps(update(case_id, "victim_notified", "2025-01-02T10:00:00Z", victim_name="Ana Flores")).encode(),
        json.dumps(update(case_id, "stage_changed", "2025-01-02T10:00:00Z", stage="trial")).encode(),
    ]
    good = [
        update(case_id, "stage_changed", "2025-01-03T10:00:00Z", stage="complaint_filed"),
        update(case_id, "stage_changed", "2025-01-04T10:00:00Z", stage="preliminary_investigation"),
        update(case_id, "hearing_postponed", "2025-01-05T10:00:00Z", hearing_id="h1", reason="judge_absent"),
    ]
    sent = [send(producer, case_id, raw) for raw in poison]
    for item in good:
        send(producer, case_id, json.dumps(item).encode())
    # the same update again on Kafka: a duplicate, neither applied twice nor dead-lettered
    send(producer, case_id, json.dumps(good[0]).encode())

    events = legal_events(stack_env, case_id, lambda evs: any(e.type.endswith("hearing_postponed") for e in evs))
    assert [e.type for e in events] == [
        "centinela.legal.stage_changed",
        "centinela.legal.stage_changed",
        "centinela.legal.hearing_postponed",
    ]
    assert events[2].payload.postponements_in_stage == 1

    with consumer(stack_env, "court-updates.dlq") as c:
        mine = lambda rs: [  # noqa: E731
            r
            for r in rs
            if r.key == case_id.encode() and dlq_headers(r.headers).get("dlq.consumer.group") == "legal-court-updates"
        ]
        records = mine(drain(c, lambda rs: len(mine(rs)) >= 4, timeout=60))
    assert len(records) == 4
    by_offset = {int(dlq_headers(r.headers)["dlq.source.offset"]): r for r in records}
    for meta, raw in zip(sent, poison, strict=True):
        record = by_offset[meta.offset]
        headers = dlq_headers(record.headers)
        assert headers["dlq.source.partition"] == str(meta.partition)
        assert headers["dlq.source.topic"] == stack_env["CENTINELA_TOPIC_PREFIX"] + "court-updates"
        assert record.value == raw
    reasons = [dlq_headers(by_offset[m.offset].headers)["dlq.reason"] for m in sent]
    assert "not JSON" in reasons[0]
    assert "kind: must be one of" in reasons[1]
    assert "victim_name: unknown field" in reasons[2] and "Ana" not in reasons[2]
    assert "cannot start in trial" in reasons[3]

    register_case(producer, case_id, "org-kafka", "adv-kafka")
    t = readable_timeline(legal, case_id, tokens("legal_advocate", sub="adv-kafka"))
    assert t["stage"] == "preliminary_investigation" and t["postponements_in_stage"] == 1
    assert {e["path"] for e in t["entries"]} == {"kafka"}

    metrics = httpx.get(legal.url + "/metrics", timeout=10).text
    assert 'centinela_legal_updates_received_total{outcome="accepted",path="kafka"}' in metrics
    assert 'centinela_legal_updates_received_total{outcome="duplicate",path="kafka"}' in metrics
    dlq_line = next(line for line in metrics.splitlines() if line.startswith("centinela_legal_dlq_total "))
    assert float(dlq_line.split()[1]) >= 4


def test_rest_and_kafka_share_one_pipeline(legal, tokens, producer, stack_env):
    case_id = new_id("c")
    via_rest = update(case_id, "stage_changed", "2025-01-03T10:00:00Z", stage="preliminary_investigation")
    assert post(legal, tokens.integrator(), via_rest).json()["accepted"] == 1
    # replayed on Kafka: a duplicate of the REST one; then a new fact through Kafka
    send(producer, case_id, json.dumps(via_rest).encode())
    via_kafka = update(case_id, "victim_notified", "2025-01-04T10:00:00Z", about="hearing")
    send(producer, case_id, json.dumps(via_kafka).encode())
    events = legal_events(stack_env, case_id, lambda evs: any(e.type.endswith("victim_notified") for e in evs))
    assert [e.type for e in events] == ["centinela.legal.stage_changed", "centinela.legal.victim_notified"]
    # and the Kafka one is a duplicate on REST
    assert post(legal, tokens.integrator(), via_kafka).json()["duplicate"] == 1


def test_stage_gauges(legal, tokens):
    case_id = new_id("c")
    body = update(case_id, "stage_changed", "2025-01-03T10:00:00Z", stage="preliminary_investigation")
    assert post(legal, tokens.integrator(), body).json()["accepted"] == 1

    def gauges() -> dict[str, float] | None:
        text = httpx.get(legal.url + "/metrics", timeout=10).text
        values = {}
        for line in text.splitlines():
            if line.startswith(("centinela_legal_cases_by_stage{", "centinela_legal_oldest_stage_age_seconds{")):
                name, value = line.rsplit(" ", 1)
                values[name] = float(value)
        key = 'centinela_legal_cases_by_stage{stage="preliminary_investigation"}'
        return values if values.get(key, 0) >= 1 else None

    values = wait_for(gauges, timeout=30, what="stage gauges")
    age = values['centinela_legal_oldest_stage_age_seconds{stage="preliminary_investigation"}']
    assert age > 300 * 86400  # the oldest such stage began in January 2025 at the latest
