from __future__ import annotations

from datetime import UTC, datetime

from shared.kafka import (
    DLQ_REASON,
    dlq_headers,
    dlq_record_headers,
    dlq_topic,
    logical_topic,
    physical_topic,
)
from shared.settings import CommonSettings


def test_prefix_helpers_round_trip() -> None:
    assert physical_topic("t1.", "alerts") == "t1.alerts" == CommonSettings(topic_prefix="t1.").topic("alerts")
    assert logical_topic("t1.", "t1.alerts") == "alerts"
    assert logical_topic("", "alerts") == "alerts"
    # a topic outside the prefix (faust's own internal topics) is left alone
    assert logical_topic("t1.", "processor-ticks") == "processor-ticks"
    assert dlq_topic("t1.", "t1.court-updates") == "t1.court-updates.dlq"
    assert dlq_topic("", "case-events") == "case-events.dlq"


def test_dlq_record_headers() -> None:
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    headers = dlq_record_headers(
        reason="x" * 5000, topic="t1.court-updates", partition=4, offset=17, group="legal", failed_at=at
    )
    decoded = dlq_headers(headers)
    assert decoded == {
        DLQ_REASON: "x" * 1000,
        "dlq.source.topic": "t1.court-updates",
        "dlq.source.partition": "4",
        "dlq.source.offset": "17",
        "dlq.consumer.group": "legal",
        "dlq.failed_at": "2026-01-02T03:04:05+00:00",
    }
    assert all(isinstance(v, bytes) for _, v in headers)
