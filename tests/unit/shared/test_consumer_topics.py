"""A PartitionedConsumer of several topics (the reports read model's three): one health per topic, so
a stuck partition of one topic is named by its topic and does not hold back the same partition number
of another; poison goes to its own topic's DLQ; /readyz answers per topic (no broker, no clock)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient
from kafka import TopicPartition

from services.reports.adapters.consumer import TOPICS, reports_consumer, unfoldable
from services.reports.settings import ReportsSettings
from shared.app import create_app
from shared.consumer import PartitionedConsumer
from shared.errors import InvalidInput
from shared.metrics import metrics_payload
from shared.settings import CommonSettings
from tests.unit.shared.fake_kafka import Clock, FakeProducer, Record


class TopicsConsumer:
    """Commits keyed by (topic, partition): two topics share partition numbers."""

    def __init__(self) -> None:
        self.committed: dict[tuple[str, int], int] = {}
        self._paused: set[TopicPartition] = set()

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        for tp, meta in offsets.items():
            self.committed[(tp.topic, tp.partition)] = meta.offset

    def seek(self, tp: TopicPartition, offset: int) -> None:
        pass

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)


def make(handler: Any) -> tuple[PartitionedConsumer[bytes], TopicsConsumer, FakeProducer, Clock]:
    loop: PartitionedConsumer[bytes] = PartitionedConsumer(
        CommonSettings(service_name="unittopics"),
        ["case-events", "alerts"],
        "g",
        lambda record: record.value,
        handler,
        stuck_after=30.0,
    )
    clock = Clock()
    for health in loop.healths.values():
        health.clock = clock
    fake, producer = TopicsConsumer(), FakeProducer()
    loop.consumer = fake  # type: ignore[assignment]
    loop.producer = producer  # type: ignore[assignment]
    return loop, fake, producer, clock


def test_a_stuck_partition_is_named_by_its_topic_and_holds_back_only_that_topic() -> None:
    def handle(record: Any, item: bytes) -> None:
        if record.topic == "case-events":
            raise ConnectionError("database away")

    loop, fake, _, clock = make(handle)
    assert loop.topic == "case-events,alerts" and set(loop.healths) == {"case-events", "alerts"}
    events, alerts = TopicPartition("case-events", 0), TopicPartition("alerts", 0)
    assert loop._process(events, Record(0, 5, b"x", topic="case-events")) is False
    assert loop._process(alerts, Record(0, 9, b"y", topic="alerts")) is True
    assert fake.committed == {("alerts", 0): 10}
    assert 0 in loop.healths["case-events"].failing and not loop.healths["alerts"].failing
    clock.now += 31
    problem = loop.healths["case-events"].problem()
    assert (
        problem is not None and problem.startswith("case-events: partition 0 failing") and "ConnectionError" in problem
    )
    assert loop.healths["alerts"].problem() is None

    app = create_app(CommonSettings(service_name="unittopics2"), title="t", description="d")
    app.state.ready_checks = {"kafka": lambda: True}
    app.state.consumers = [loop, SimpleNamespace(topic="legacy")]  # one without health says nothing
    checks = TestClient(app).get("/readyz").json()["checks"]
    assert checks["consumer:alerts"] == "ok" and checks["consumer:case-events"].startswith("stuck: case-events:")
    assert "consumer:legacy" not in checks


def test_poison_goes_to_the_dlq_of_its_own_topic_and_is_counted_under_it() -> None:
    def handle(record: Any, item: bytes) -> None:
        raise InvalidInput("data.at: out of range", field="data.at")

    loop, fake, producer, _ = make(handle)
    assert loop._process(TopicPartition("alerts", 2), Record(2, 4, b"bad", topic="alerts")) is True
    assert [(t, v) for t, v, _ in producer.sent] == [("alerts.dlq", b"bad")] and fake.committed == {("alerts", 2): 5}
    assert (
        'centinela_unittopics_consumer_failures_total{kind="poison",topic="alerts"} 1.0' in metrics_payload().decode()
    )


def test_the_read_model_consumer_reads_its_three_topics_and_dead_letters_what_cannot_fold() -> None:
    consumer = reports_consumer(ReportsSettings(), projector=None)  # type: ignore[arg-type]
    assert consumer.topics == tuple(TOPICS) == ("case-events", "legal-events", "alerts")
    assert unfoldable(ValueError("year 10000 is out of range")) == (
        "value the read model cannot fold (ValueError)",
        "invalid",
    )
    assert unfoldable(ConnectionError()) is None  # trouble: retried, never dead-lettered
