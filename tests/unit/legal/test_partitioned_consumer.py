"""Poison versus transient in the legal consumer, partition by partition, with a fake broker and clock."""

from __future__ import annotations

from functools import partial
from typing import Any

from kafka import TopicPartition
from pymongo.errors import ServerSelectionTimeoutError

from services.legal.adapters.consumers import poison_reason
from services.legal.domain.errors import IllegalUpdate
from services.legal.settings import LegalSettings
from shared.consumer import PartitionedConsumer, is_transient
from shared.kafka import InvalidMessage, dlq_headers
from tests.unit.shared.fake_kafka import Clock, FakeConsumer, FakeProducer
from tests.unit.shared.fake_kafka import Record as FakeRecord

TOPIC = "court-updates"


Record = partial(FakeRecord, topic=TOPIC)


def make(handler: Any, max_attempts: int = 3) -> tuple[PartitionedConsumer[bytes], FakeConsumer, FakeProducer, Clock]:
    clock = Clock()
    loop: PartitionedConsumer[bytes] = PartitionedConsumer(
        LegalSettings(),
        TOPIC,
        "legal-court-updates",
        lambda record: record.value,
        handler,
        poison=poison_reason,
        max_attempts=max_attempts,
        retry_window=4.0,
        stuck_after=30.0,
    )
    loop.health.clock = clock
    fake, producer = FakeConsumer(), FakeProducer()
    loop.consumer = fake
    loop.producer = producer  # type: ignore[assignment]
    return loop, fake, producer, clock


def test_poison_is_dead_lettered_at_once_with_its_reason():
    def handler(record: Any, value: bytes) -> None:
        raise IllegalUpdate("stage: a prosecution cannot start in trial")

    loop, fake, producer, _ = make(handler)
    assert loop._process(TopicPartition(TOPIC, 2), Record(2, 7, b"{}")) is True
    topic, _, headers = producer.sent[0]
    assert topic == "court-updates.dlq"
    got = dlq_headers(headers)
    assert got["dlq.reason"] == "stage: a prosecution cannot start in trial" and got["dlq.reason.code"] == "illegal"
    assert got["dlq.source.partition"] == "2" and got["dlq.source.offset"] == "7"
    assert fake.committed == {2: 8}


def test_an_unexpected_error_that_repeats_is_dead_lettered_after_n_attempts_and_pauses_only_its_partition():
    def handler(record: Any, value: bytes) -> None:
        if value == b"bad":
            raise OverflowError("date value out of range")

    loop, fake, producer, clock = make(handler, max_attempts=3)
    bad_tp, good_tp = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)
    bad = Record(0, 5, b"bad")
    assert loop._process(bad_tp, bad) is False
    assert fake.paused() == {bad_tp} and fake.sought == {0: 5} and not producer.sent
    # the other partition goes on meanwhile
    assert loop._process(good_tp, Record(1, 9, b"good")) is True and fake.committed == {1: 10}
    loop._resume_due()
    assert fake.paused() == {bad_tp}  # its backoff has not passed
    clock.now += 0.5
    loop._resume_due()
    assert fake.paused() == set()
    assert loop._process(bad_tp, bad) is False  # second attempt
    assert loop.health.failing[0].attempts == 2 and loop.health.failing[0].exc_type == "OverflowError"
    assert loop._process(bad_tp, bad) is True  # third: poison
    assert dlq_headers(producer.sent[0][2])["dlq.reason"] == "unexpected OverflowError after 3 attempts"
    assert fake.committed[0] == 6 and 0 not in loop.health.failing


def test_transient_trouble_is_never_dead_lettered_and_reports_stuck_after_the_threshold():
    def handler(record: Any, value: bytes) -> None:
        raise ServerSelectionTimeoutError("no servers")

    loop, fake, producer, clock = make(handler, max_attempts=2)
    tp = TopicPartition(TOPIC, 3)
    backoffs = []
    for _ in range(10):
        assert loop._process(tp, Record(3, 42, b"{}")) is False
        backoffs.append(loop.health.failing[3].retry_at - clock.now)
        clock.now += 5
    assert not producer.sent and 3 not in fake.committed
    assert max(backoffs) == 4.0  # never longer than the retry window
    problem = loop.health.problem()
    assert problem is not None and "partition 3" in problem and "ServerSelectionTimeoutError" in problem
    # it recovers: the record is stored, the partition is no longer failing, not stuck any more
    loop.handler = lambda record, value: None
    assert loop._process(tp, Record(3, 42, b"{}")) is True and loop.health.problem() is None


def test_not_stuck_before_the_threshold():
    def handler(record: Any, value: bytes) -> None:
        raise ConnectionError("down")

    loop, _, _, clock = make(handler)
    loop._process(TopicPartition(TOPIC, 0), Record(0, 1, b"{}"))
    clock.now += 29
    assert loop.health.problem() is None
    clock.now += 1
    assert loop.health.problem() is not None


def test_classification():
    assert is_transient(ServerSelectionTimeoutError("x")) and is_transient(TimeoutError())
    assert not is_transient(OverflowError()) and not is_transient(KeyError("x"))
    assert poison_reason(InvalidMessage("value: not JSON")) == ("value: not JSON", "invalid")
    assert poison_reason(IllegalUpdate("stage: x")) == ("stage: x", "illegal")
    assert poison_reason(OverflowError()) is None


def test_write_contention_and_shared_transient_errors_are_transient():
    from services.legal.service import WriteContention
    from shared.errors import StorageUnavailable

    assert is_transient(WriteContention("busy")) and is_transient(StorageUnavailable())
