"""A burst on the real ``alerts`` topic, many cases on every partition with a poison record among
them, stored by the service a poll at a time (all partitions in one batch): every alert once in the
inbox, the poison record dead-lettered with its reason, the others not held back by it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.events import encode, new_event
from shared.kafka import dlq_headers
from shared.topics import ALERTS, dlq
from tests.integration.alerts_service.conftest import AlertsService, uid
from tests.support import alert_raised, consumer, drain, wait_for

pytestmark = pytest.mark.integration


def test_a_burst_over_every_partition_is_stored_once_and_poison_goes_to_the_dlq(
    alerts_service: AlertsService,
) -> None:
    s = alerts_service
    adv, org = uid("adv"), uid("org")
    mine = s.token("legal_advocate", adv, org)
    now = datetime.now(UTC)
    burst = [alert_raised(org=org, advocate=adv, raised_at=now - timedelta(seconds=i)) for i in range(240)]
    poison_case = uid("case")
    bad = json.loads(encode(new_event(alert_raised(org=org, advocate=adv, case_id=poison_case))))
    bad["data"]["raised_at"] = "9999-12-31T23:59:59-14:00"
    with consumer(s.env, dlq(ALERTS)) as dead:
        futures = [s.producer.publish(ALERTS, new_event(p)) for p in burst[:120]]
        futures.append(s.producer.send_raw(ALERTS, poison_case.encode(), json.dumps(bad).encode()))
        futures += [s.producer.publish(ALERTS, new_event(p)) for p in burst[120:]]
        for f in futures:
            f.get(timeout=30)

        def total() -> bool:
            return bool(s.get("/v1/alerts", mine, params={"total": "true", "limit": 1}).json()["total"] == len(burst))

        wait_for(total, timeout=90, what=f"{len(burst)} alerts in the inbox")

        def poisoned(records: list[Any]) -> bool:
            return any(r.key == poison_case.encode() for r in records)

        records = [r for r in drain(dead, poisoned, timeout=30) if r.key == poison_case.encode()]
    assert len(records) == 1
    assert "data.raised_at" in dlq_headers(records[0].headers)["dlq.reason"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = s.get("/v1/alerts", mine, params=params).json()
        seen += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(p.alert_id for p in burst)  # each once, none twice
