"""Issue 10: the 9999/-14:00 message no longer stops the consumer; lag and readiness tell the truth."""

from __future__ import annotations

import json

import httpx
import pytest

from shared.kafka import dlq_headers
from shared.topics import COURT_UPDATES
from tests.integration.legal.conftest import new_id, readable_timeline, register_case, update
from tests.support import consumer, drain, wait_for

pytestmark = pytest.mark.integration


def lag_by_partition(legal) -> dict[str, float]:
    text = httpx.get(legal.url + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if line.startswith("centinela_legal_consumer_lag_messages{") and 'topic="court-updates"' in line:
            name, value = line.rsplit(" ", 1)
            out[name.split('partition="', 1)[1].split('"', 1)[0]] = float(value)
    return out


def test_poison_date_goes_to_dlq_and_the_twelve_after_it_are_processed(legal, tokens, producer, stack_env):
    poison_case = new_id("c")
    poison = update(poison_case, "stage_changed", "9999-12-31T23:59:59-14:00", stage="complaint_filed")
    meta = producer.send_raw(COURT_UPDATES, poison_case.encode(), json.dumps(poison).encode()).get(timeout=30)
    # twelve cases: their keys spread over every partition, including the poison's
    cases = [new_id("c") for _ in range(12)]
    for case_id in cases:
        good = update(case_id, "stage_changed", "2025-01-03T10:00:00Z", stage="preliminary_investigation")
        producer.send_raw(COURT_UPDATES, case_id.encode(), json.dumps(good).encode()).get(timeout=30)
        register_case(producer, case_id, "org-poison", "adv-poison")

    with consumer(stack_env, "court-updates.dlq") as c:

        def mine(records):
            return [r for r in records if r.key == poison_case.encode()]

        records = mine(drain(c, lambda rs: len(mine(rs)) >= 1, timeout=60))
    headers = dlq_headers(records[0].headers)
    assert headers["dlq.source.offset"] == str(meta.offset) and headers["dlq.source.partition"] == str(meta.partition)
    assert headers["dlq.reason"].startswith("occurred_at: must be on or after 1900-01-01")
    assert headers["dlq.reason.code"] == "invalid"
    assert "9999" not in headers["dlq.reason"]

    advocate = tokens("legal_advocate", sub="adv-poison", org="org-poison")
    for case_id in cases:
        t = readable_timeline(legal, case_id, advocate, until=lambda t: t["stage"] == "preliminary_investigation")
        assert [e["path"] for e in t["entries"]] == ["kafka"]

    def caught_up() -> dict[str, float] | None:
        lag = lag_by_partition(legal)
        return lag if lag and all(v == 0 for v in lag.values()) else None

    lag = wait_for(caught_up, timeout=30, what="court-updates lag back to 0")
    assert len(lag) == 3  # every partition of the test topic reports its lag
    ready = httpx.get(legal.url + "/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json()["checks"]["consumer:court-updates"] == "ok"
    metrics = httpx.get(legal.url + "/metrics", timeout=10).text
    assert 'centinela_legal_consumer_stuck{topic="court-updates"} 0.0' in metrics
