"""In-memory stand-ins for kafka-python's consumer and the shared producer, for unit tests of
shared.consumer.PartitionedConsumer (and the services' consumers built on it): no broker, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition

from shared.consumer import PartitionedConsumer
from shared.settings import CommonSettings


@dataclass
class Record:
    partition: int
    offset: int
    value: bytes
    topic: str = "case-events"
    key: bytes = b"c-1"
    headers: list[Any] = field(default_factory=list)


class FakeConsumer:
    """Records commits and seeks; pauses and resumes partitions."""

    def __init__(self) -> None:
        self.committed: dict[int, int] = {}
        self.sought: dict[int, int] = {}
        self._paused: set[TopicPartition] = set()

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        for tp, meta in offsets.items():
            self.committed[tp.partition] = meta.offset

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought[tp.partition] = offset

    def pause(self, *tps: TopicPartition) -> None:
        self._paused.update(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused.difference_update(tps)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)


class Future:
    def get(self, timeout: float | None = None) -> None:
        return None


class FakeProducer:
    """Keeps what was dead-lettered: (topic, value, headers)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, list[tuple[str, bytes]]]] = []

    def send_raw(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> Future:
        self.sent.append((topic, value, headers))
        return Future()

    def close(self) -> None:
        pass


class Clock:
    """A monotonic clock the test moves by hand (``clock.now += 5``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def partitioned(
    topic: str, service: str, handler: Any, **options: Any
) -> tuple[PartitionedConsumer[bytes], FakeConsumer, FakeProducer]:
    """A PartitionedConsumer of ``topic`` on the fakes above, up to 3 attempts a record (``options``:
    more of its keywords, e.g. handle_many, batch_per_poll)."""
    loop: PartitionedConsumer[bytes] = PartitionedConsumer(
        CommonSettings(service_name=service),
        topic,
        "g",
        lambda record: record.value,
        handler,
        **{"max_attempts": 3, **options},
    )
    fake, producer = FakeConsumer(), FakeProducer()
    loop.consumer = fake
    loop.producer = producer  # type: ignore[assignment]
    return loop, fake, producer
