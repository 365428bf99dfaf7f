"""The alerts topic's decoder tells poison (dead-letter at once, with a reason naming the field)
from good facts, and /readyz says why when the consumer is stuck (no network)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.alerts.main import build_app
from services.alerts.service.ingest import AlertIngestor
from services.alerts.settings import AlertsSettings
from shared.consumer import poison_reason
from shared.events import encode, new_event
from shared.kafka import InvalidMessage
from tests.support import alert_raised


@dataclass
class Record:
    value: bytes | None
    topic: str = "alerts"
    partition: int = 0
    offset: int = 0
    key: bytes | None = b"case-1"


def decoder() -> type[AlertIngestor]:
    return AlertIngestor


def raised_at(at: datetime) -> bytes:
    return encode(new_event(alert_raised(org="o", advocate="a", raised_at=at)))


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty record"),
        (b"", "empty record"),
        (b"not json", ""),
        (b'{"specversion": "1.0"}', ""),
        (raised_at(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))), "data.raised_at"),
        (raised_at(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))), "data.raised_at"),
        (raised_at(datetime.now(UTC) + timedelta(days=3)), "data.raised_at"),
    ],
)
def test_records_that_can_never_be_stored_are_poison_with_a_reason(value: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidMessage) as err:
        decoder().decode(Record(value))  # type: ignore[arg-type]
    # the consumer dead-letters these at the first attempt, with this reason
    got = poison_reason(err.value)
    assert got is not None and reason in got[0]
    assert "9999" not in got[0] and "0001" not in got[0]  # the rule, never the value


def test_a_good_fact_decodes() -> None:
    event = decoder().decode(Record(raised_at(datetime.now(UTC))))  # type: ignore[arg-type]
    assert event.type == "centinela.alert.raised"


@dataclass
class FakeHealth:
    reason: str | None

    def problem(self) -> str | None:
        return self.reason


@dataclass
class FakeConsumer:
    health: FakeHealth
    topic: str = "alerts"


def test_readyz_is_503_with_the_reason_while_the_consumer_is_stuck() -> None:
    app = build_app(AlertsSettings(kafka_bootstrap="127.0.0.1:1"))
    app.state.ready_checks = {"kafka": lambda: True, "mongodb": lambda: True}
    client = TestClient(app)  # no lifespan: nothing connects anywhere
    consumer: Any = FakeConsumer(FakeHealth(None))
    app.state.consumers = [consumer]
    ok = client.get("/readyz")
    assert ok.status_code == 200 and ok.json()["checks"]["consumer:alerts"] == "ok"
    consumer.health.reason = "alerts: partition 3 failing for 31s (ServerSelectionTimeoutError, 9 attempts)"
    stuck = client.get("/readyz")
    assert stuck.status_code == 503
    assert stuck.json()["checks"]["consumer:alerts"] == f"stuck: {consumer.health.reason}"
