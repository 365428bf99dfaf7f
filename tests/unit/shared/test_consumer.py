"""The shared partition-aware consumer: metrics named after the service, CentinelaError poison, the batch hook."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition

from shared.consumer import PartitionedConsumer, poison_reason
from shared.errors import InvalidInput, Rejected, StorageUnavailable
from shared.metrics import metrics_payload
from tests.unit.shared.fake_kafka import FakeConsumer, FakeProducer, Record, partitioned

TOPIC = "case-events"


def test_non_transient_centinela_errors_are_poison_with_their_reason_code() -> None:
    assert poison_reason(InvalidInput("occurred_at: out of range", field="occurred_at")) == (
        "occurred_at: out of range",
        "invalid_input",
    )
    assert poison_reason(Rejected("case closed", reason="case_closed")) == ("case closed", "case_closed")
    assert poison_reason(StorageUnavailable()) is None  # transient: retried, never dead-lettered
    assert poison_reason(OverflowError()) is None  # unexpected: poison only after max_attempts


def make(handle_many: Any, handler: Any) -> tuple[PartitionedConsumer[bytes], FakeConsumer, FakeProducer]:
    return partitioned(TOPIC, "unitconsumer", handler, handle_many=handle_many)


def test_a_batch_is_handled_at_once_and_committed_once() -> None:
    seen: list[list[bytes]] = []
    loop, fake, _ = make(lambda records, items: seen.append(items), lambda r, i: None)
    tp = TopicPartition(TOPIC, 0)
    assert loop._process_batch(tp, [Record(0, 5, b"a"), Record(0, 6, b"b")])
    assert seen == [[b"a", b"b"]] and fake.committed == {0: 7} and loop.batches == 1 and loop.processed == 2


def test_a_failing_batch_falls_back_to_records_and_poison_is_dead_lettered() -> None:
    def many(records: list[Any], items: list[bytes]) -> None:
        raise InvalidInput("x: bad")

    def one(record: Any, item: bytes) -> None:
        if item == b"bad":
            raise InvalidInput("x: bad", field="x")

    loop, fake, producer = make(many, one)
    tp = TopicPartition(TOPIC, 1)
    assert not loop._process_batch(tp, [Record(1, 0, b"ok"), Record(1, 1, b"bad")])
    assert fake.committed == {}
    assert loop._process(tp, Record(1, 0, b"ok")) and loop._process(tp, Record(1, 1, b"bad"))
    assert [(topic, value) for topic, value, _ in producer.sent] == [("case-events.dlq", b"bad")]
    assert fake.committed == {1: 2}
    failures = 'centinela_unitconsumer_consumer_failures_total{kind="poison",topic="case-events"} 1.0'
    assert failures in metrics_payload().decode()
