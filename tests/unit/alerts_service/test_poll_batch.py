"""The alerts consumer stores what one poll brought, every partition together, as one batch with one
commit; a batch that fails goes partition by partition, then record by record (poison to the DLQ),
and a partition that is failing stays out of the batch until its record is through."""

from __future__ import annotations

from typing import Any

from kafka import TopicPartition

from services.alerts.adapters.consumer import alerts_consumer
from services.alerts.settings import AlertsSettings
from shared.consumer import PartitionedConsumer, _Failing
from shared.errors import InvalidInput
from tests.unit.shared.fake_kafka import FakeConsumer, FakeProducer, Record, partitioned

TOPIC = "alerts"


def tp(partition: int) -> TopicPartition:
    return TopicPartition(TOPIC, partition)


def poll(*partitions: tuple[int, list[bytes]]) -> dict[TopicPartition, list[Any]]:
    """One poll's records: values per partition, offsets from 10 up."""
    return {tp(p): [Record(p, 10 + i, v, topic=TOPIC) for i, v in enumerate(values)] for p, values in partitions}


def make(many: Any, one: Any) -> tuple[PartitionedConsumer[bytes], FakeConsumer, FakeProducer]:
    return partitioned(TOPIC, "unitpollbatch", one, handle_many=many, batch_per_poll=True)


class Commits(FakeConsumer):
    """Also keeps each commit request, to count them."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[set[int]] = []

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.requests.append({t.partition for t in offsets})
        super().commit(offsets)


def test_one_poll_of_several_partitions_is_one_batch_and_one_commit() -> None:
    batches: list[list[bytes]] = []
    loop, _, _ = make(lambda records, items: batches.append(items), lambda r, i: None)
    loop.consumer = commits = Commits()
    loop._process_poll(poll((0, [b"a1", b"a2"]), (3, [b"d1"]), (5, [b"f1", b"f2", b"f3"])))
    assert batches == [[b"a1", b"a2", b"d1", b"f1", b"f2", b"f3"]]  # each partition's records in order
    assert commits.requests == [{0, 3, 5}]
    assert commits.committed == {0: 12, 3: 11, 5: 13}
    assert loop.batches == 1 and loop.processed == 6


def test_a_failing_poll_batch_goes_partition_by_partition_then_record_by_record() -> None:
    batches: list[list[bytes]] = []
    stored: list[bytes] = []

    def many(records: list[Any], items: list[bytes]) -> None:
        if b"bad" in items:
            raise InvalidInput("data.raised_at: out of range", field="data.raised_at")
        batches.append(items)

    def one(record: Any, item: bytes) -> None:
        if item == b"bad":
            raise InvalidInput("data.raised_at: out of range", field="data.raised_at")
        stored.append(item)

    loop, fake, producer = make(many, one)
    loop._process_poll(poll((0, [b"a1", b"a2"]), (1, [b"b1", b"bad", b"b3"])))
    assert batches == [[b"a1", b"a2"]]  # partition 0 on its own, in one batch
    assert stored == [b"b1", b"b3"]  # partition 1 record by record: the poison one dead-lettered, not stored
    assert [(topic, value) for topic, value, _ in producer.sent] == [("alerts.dlq", b"bad")]
    assert fake.committed == {0: 12, 1: 13}


def test_a_partition_waiting_for_a_retry_stays_out_of_the_poll_batch() -> None:
    batches: list[list[bytes]] = []
    stored: list[bytes] = []
    loop, fake, _ = make(lambda records, items: batches.append(items), lambda r, i: stored.append(i))
    loop.health.failing[2] = _Failing(offset=10, since=0.0, attempts=1)
    loop._process_poll(poll((0, [b"a1"]), (1, [b"b1"]), (2, [b"c1", b"c2"])))
    assert batches == [[b"a1", b"b1"]]
    assert stored == [b"c1", b"c2"]  # its records one at a time, as before
    assert fake.committed == {0: 11, 1: 11, 2: 12} and 2 not in loop.health.failing


def test_without_batch_per_poll_each_partition_is_its_own_batch() -> None:
    batches: list[list[bytes]] = []
    loop, fake, _ = make(lambda records, items: batches.append(items), lambda r, i: None)
    loop.batch_per_poll = False
    loop._process_poll(poll((0, [b"a1", b"a2"]), (1, [b"b1", b"b2"])))
    assert batches == [[b"a1", b"a2"], [b"b1", b"b2"]] and fake.committed == {0: 12, 1: 12}


def test_the_alerts_consumer_stores_a_poll_as_one_batch() -> None:
    class Ingestor:
        decode = handle = handle_many = dead_lettered = staticmethod(lambda *a: None)

    consumer = alerts_consumer(AlertsSettings(), Ingestor())  # type: ignore[arg-type]
    assert consumer.batch_per_poll and consumer.handle_many is not None
