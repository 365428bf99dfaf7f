"""The kafka-python consumer of every service: poison told from trouble, partition by partition,
and a consumer that says when it is stuck (legal's court updates and case access, the alerts
service's ``alerts`` topic, the reports read model's three topics).

It replaced a loop that retried any unexpected exception forever on the record that raised it:
one message that could never be processed (``occurred_at`` = ``9999-12-31T23:59:59-14:00``
raised ``OverflowError``) stopped every partition of the consumer, with ``/readyz`` still 200
and nothing in the DLQ.

Here each failure is classified:

* **poison** (:class:`shared.kafka.InvalidMessage`, any non-transient
  :class:`shared.errors.CentinelaError`, or what the service's own ``poison`` classifier
  recognises: decode, validation, out-of-range, domain rejection) goes to ``<topic>.dlq`` at once,
  with the reason;
* **transient** (database or broker unreachable, write contention): retried with backoff, never
  dead-lettered, however long it lasts;
* **unexpected** (anything else): retried; after ``max_attempts`` failures of the same record it
  is poison too (``dlq.reason`` = ``unexpected <ExceptionType> after N attempts``).

While a record waits for its next attempt its partition is *paused* and sought back to it, and
the other partitions keep being polled, so one partition's trouble holds back only that
partition (the backoff never exceeds ``retry_window``). Offsets are committed per record after
it was stored or dead-lettered: at-least-once, never skipping a record.

With ``handle_many`` the records one poll brought for a partition are first tried as one batch
(a few database round trips, one commit); when anything in the batch fails the same records go
through the per-record path above, which finds which record failed and whether it is poison.
Re-applying the part of the batch that was stored is harmless (handlers are idempotent). With
``batch_per_poll`` the partitions of one poll go to ``handle_many`` together (one batch, one commit
of every partition's offset), and a failure there falls back to the partitions one by one; the
records of each partition stay in their order in the batch.

:func:`decode_event` is the decoder of a topic of CloudEvents: an empty or undecodable record is
poison with the codec's reason (it names the field, never a value).

Metrics are named after the service (``CommonSettings.service_name``):
``centinela_<service>_consumer_lag_messages{topic,partition}``,
``centinela_<service>_consumer_stuck{topic}`` and
``centinela_<service>_consumer_failures_total{topic,kind}``.

:class:`ConsumerHealth` carries what the consumer knows about itself: per-partition lag (a
gauge, refreshed every ``lag_interval``), and ``problem()``: why it cannot progress, once a
partition has been failing (or the broker unreachable) for ``stuck_after`` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from prometheus_client import Counter, Gauge
from pymongo.errors import ConnectionFailure, PyMongoError

from shared import metrics
from shared.errors import CentinelaError
from shared.events import DecodeError, Event, decode
from shared.kafka import InvalidMessage, Producer, dlq_record_headers, kafka_python_security, logical_topic
from shared.settings import CommonSettings
from shared.topics import dlq

log = logging.getLogger(__name__)

T = TypeVar("T")

PoisonClassifier = Callable[[BaseException], "tuple[str, str] | None"]


@dataclass(frozen=True)
class ConsumerMetrics:
    """The consumer's gauges and counter, named after the service that runs it."""

    lag: Gauge
    stuck: Gauge
    failures: Counter


def consumer_metrics(service: str) -> ConsumerMetrics:
    """``centinela_<service>_consumer_*``: created once per process, shared by the service's consumers."""
    return ConsumerMetrics(
        lag=metrics.gauge(
            f"centinela_{service}_consumer_lag_messages",
            "records not yet processed per partition (log end offset - position)",
            ("topic", "partition"),
        ),
        stuck=metrics.gauge(
            f"centinela_{service}_consumer_stuck",
            "1 while the consumer cannot progress on some partition for longer than the stuck threshold",
            ("topic",),
        ),
        failures=metrics.counter(
            f"centinela_{service}_consumer_failures_total",
            "failed attempts to process a record, by kind (transient|unexpected|poison)",
            ("topic", "kind"),
        ),
    )


def is_transient(exc: BaseException) -> bool:
    """Trouble outside the message: waiting may cure it, so it is never a reason to dead-letter."""
    if isinstance(exc, ConnectionFailure | KafkaError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, PyMongoError) and exc.has_error_label("RetryableWriteError"):
        return True
    return getattr(exc, "transient", False) is True  # shared.errors.Transient, the service's WriteContention


def poison_reason(exc: BaseException) -> tuple[str, str] | None:
    """(reason, code) when ``exc`` says the message itself can never be processed.

    :class:`InvalidMessage` gives its reason (code ``invalid`` unless it carries one); any
    :class:`CentinelaError` that is not transient gives its message (it names the field, never a
    value) and its machine ``reason`` as the code.
    """
    if isinstance(exc, InvalidMessage):
        return exc.reason, str(getattr(exc, "code", "invalid"))
    if isinstance(exc, CentinelaError) and not exc.transient:
        return exc.message, exc.reason
    return None


def decode_event(record: ConsumerRecord) -> Event:
    """The record as a typed event, or :class:`InvalidMessage` (poison) with the reason."""
    if not record.value:
        raise InvalidMessage("empty record")
    try:
        return decode(record.value)
    except DecodeError as exc:
        raise InvalidMessage(exc.reason) from None


@dataclass
class _Failing:
    offset: int
    since: float
    attempts: int = 0
    retry_at: float = 0.0
    exc_type: str = ""
    transient: bool = False


@dataclass
class ConsumerHealth:
    """What the consumer knows about its own progress (read by /readyz and the gauges)."""

    topic: str
    stuck_after: float
    clock: Callable[[], float] = time.monotonic
    failing: dict[int, _Failing] = field(default_factory=dict)
    lag: dict[int, int] = field(default_factory=dict)
    broker_down_since: float | None = None
    broker_error: str = ""
    stuck_gauge: Gauge | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def problem(self) -> str | None:
        """Why the consumer is stuck, naming partitions and exception types (never a value), or None."""
        now = self.clock()
        with self._lock:
            if self.broker_down_since is not None and now - self.broker_down_since >= self.stuck_after:
                return f"{self.topic}: broker unreachable for {now - self.broker_down_since:.0f}s ({self.broker_error})"
            stuck = [
                f"partition {p} failing for {now - f.since:.0f}s ({f.exc_type}, {f.attempts} attempts)"
                for p, f in sorted(self.failing.items())
                if now - f.since >= self.stuck_after
            ]
        return f"{self.topic}: " + "; ".join(stuck) if stuck else None

    def refresh_gauge(self) -> None:
        if self.stuck_gauge is not None:
            self.stuck_gauge.labels(self.topic).set(1 if self.problem() else 0)


class PartitionedConsumer(Generic[T]):
    """Consume ``topic`` (or several topics, one group) record by record or in partition batches.

    Every topic keeps its own :class:`ConsumerHealth` in ``healths`` (partitions are counted per
    topic; /readyz reports each as ``consumer:<topic>``); ``health`` is the first topic's, i.e. the
    consumer's own when it reads one topic.
    """

    def __init__(
        self,
        settings: CommonSettings,
        topic: str | Sequence[str],
        group_id: str,
        decode: Callable[[ConsumerRecord], T],
        handler: Callable[[ConsumerRecord, T], None],
        *,
        on_dead_letter: Callable[[ConsumerRecord, str, str], None] | None = None,
        handle_many: Callable[[list[ConsumerRecord], list[T]], None] | None = None,
        batch_per_poll: bool = False,
        poison: PoisonClassifier | None = None,
        max_poll_records: int = 200,
        max_attempts: int = 3,
        retry_window: float = 10.0,
        stuck_after: float = 30.0,
        lag_interval: float = 2.0,
        first_backoff: float = 0.2,
        auto_offset_reset: str = "earliest",
    ) -> None:
        self.settings = settings
        self.topics = (topic,) if isinstance(topic, str) else tuple(topic)
        #: what logs and /readyz call the consumer: its topic, or its topics joined by commas
        self.topic = ",".join(self.topics)
        self.group_id = group_id
        self.decode = decode
        self.handler = handler
        self.on_dead_letter = on_dead_letter
        self.handle_many = handle_many
        self.batch_per_poll = batch_per_poll
        self.poison = poison
        self.max_poll_records = max_poll_records
        self.max_attempts = max_attempts
        self.retry_window = retry_window
        self.lag_interval = lag_interval
        self.first_backoff = first_backoff
        self.auto_offset_reset = auto_offset_reset
        self.metrics = consumer_metrics(settings.service_name)
        self.healths = {t: ConsumerHealth(t, stuck_after, stuck_gauge=self.metrics.stuck) for t in self.topics}
        self.health = self.healths[self.topics[0]]
        self.processed = 0
        self.batches = 0
        self.dead_lettered = 0
        self.producer: Producer | None = None
        self.consumer: KafkaConsumer | None = None
        self.assigned = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_lag = 0.0

    # -- lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"consumer-{self.group_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.producer is not None:
            self.producer.close()

    def run(self) -> None:
        """Consume until stopped; a broker outage only delays consumption (restart with backoff)."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                if self.producer is None:
                    producer = Producer(self.settings, client_id=f"{self.group_id}-dlq")
                    if self._stop.is_set():
                        producer.close()
                        return
                    self.producer = producer
                self._consume()
                return
            except Exception as exc:
                self._broker_trouble(exc)
                log.warning(
                    f"{self.topic} consumer unavailable ({type(exc).__name__}); restarting in {delay:.0f}s",
                    extra={"exc": type(exc).__name__, "topic": self.topic},
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _of(self, tp: TopicPartition) -> ConsumerHealth:
        """The health of the topic ``tp`` belongs to (``tp.topic`` is the broker's, prefixed name)."""
        return self.healths[logical_topic(self.settings.topic_prefix, tp.topic)]

    def _clock(self) -> float:
        return self.health.clock()

    def _any_failing(self) -> bool:
        return any(h.failing for h in self.healths.values())

    def _refresh_gauges(self) -> None:
        for health in self.healths.values():
            health.refresh_gauge()

    def _broker_trouble(self, exc: BaseException) -> None:
        for health in self.healths.values():
            with health._lock:
                if health.broker_down_since is None:
                    health.broker_down_since = health.clock()
                health.broker_error = type(exc).__name__
        self._refresh_gauges()

    def _broker_ok(self) -> None:
        for health in self.healths.values():
            if health.broker_down_since is not None:
                with health._lock:
                    health.broker_down_since = None
                    health.broker_error = ""

    def _consume(self) -> None:
        self.consumer = KafkaConsumer(
            *[self.settings.topic(t) for t in self.topics],
            # TLS / SASL as configured (CENTINELA_KAFKA_SECURITY_PROTOCOL ...): a secured broker refuses plaintext
            **kafka_python_security(self.settings),
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=self.settings.topic(self.group_id),
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            max_poll_records=self.max_poll_records,
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
        )
        try:
            while not self._stop.is_set():
                self._resume_due()
                batch = self.consumer.poll(timeout_ms=200 if self._any_failing() else 500)
                assignment = self.consumer.assignment()
                if assignment:
                    self.assigned.set()
                self._process_poll(batch)
                self._forget_revoked(assignment)
                self._refresh_lag(assignment)
                self._refresh_gauges()
        finally:
            self.consumer.close(autocommit=False)

    def _process_poll(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """What one poll brought: all partitions at once (``batch_per_poll``), else or when that fails
        partition by partition, and record by record in a partition whose batch fails."""
        done = self._process_polled(batch) if self.batch_per_poll else set()
        for tp, records in batch.items():
            if self._stop.is_set():
                break
            if tp in done or self._process_batch(tp, records):
                continue
            for record in records:
                if self._stop.is_set() or not self._process(tp, record):
                    break  # paused (or stopping): the rest of this partition waits its turn

    def _process_polled(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> set[TopicPartition]:
        """The partitions of a poll that are not failing, handled as one batch and committed with one
        commit; returns those done (none when the batch failed: each is tried again on its own)."""
        ready = {tp: rs for tp, rs in batch.items() if rs and tp.partition not in self._of(tp).failing}
        if self.handle_many is None or len(ready) < 2:
            return set()  # a single partition: its own batch is the same thing
        records = [r for rs in ready.values() for r in rs]
        try:
            items = [self.decode(r) for r in records]
            self.handle_many(records, items)
        except Exception as exc:  # the partitions one by one find which one failed
            log.info("poll batch fell back to one partition at a time", extra={"exc": type(exc).__name__})
            return set()
        self.processed += len(records)
        self.batches += 1
        self._commit_many({tp: rs[-1] for tp, rs in ready.items()})
        return set(ready)

    # -- a partition's records at once (the fast path, when the service gave ``handle_many``)
    def _process_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> bool:
        """True when every record was handled and the partition's offset committed past them.

        A partition already failing stays on the per-record path until its record is through.
        """
        if self.handle_many is None or len(records) < 2 or tp.partition in self._of(tp).failing:
            return False
        try:
            items = [self.decode(r) for r in records]
            self.handle_many(records, items)
        except Exception as exc:  # the per-record path finds which record, and whether it is poison
            log.info("batch fell back to one record at a time", extra={"exc": type(exc).__name__, "topic": tp.topic})
            return False
        self.processed += len(records)
        self.batches += 1
        self._commit(tp, records[-1])
        return True

    def _poison(self, exc: BaseException) -> tuple[str, str] | None:
        if self.poison is not None:
            found = self.poison(exc)
            if found is not None:
                return found
        return poison_reason(exc)

    # -- one record
    def _process(self, tp: TopicPartition, record: ConsumerRecord) -> bool:
        """True when the record is done with (stored or dead-lettered, offset committed)."""
        try:
            item = self.decode(record)
            self.handler(record, item)
        except Exception as exc:
            poison = self._poison(exc)
            if poison is None and not is_transient(exc):
                attempts = self._attempts(tp, record) + 1
                if attempts >= self.max_attempts:
                    poison = (f"unexpected {type(exc).__name__} after {attempts} attempts", "unexpected")
            if poison is None:
                self._retry_later(tp, record, exc)
                return False
            self.metrics.failures.labels(self._of(tp).topic, "poison").inc()
            try:
                self._dead_letter(record, *poison)
            except Exception as dlq_exc:  # the DLQ is unreachable: keep the record, try again later
                self._retry_later(tp, record, dlq_exc)
                return False
        else:
            self.processed += 1
        self._of(tp).failing.pop(tp.partition, None)
        self._commit(tp, record)
        return True

    def _attempts(self, tp: TopicPartition, record: ConsumerRecord) -> int:
        failing = self._of(tp).failing.get(tp.partition)
        return failing.attempts if failing is not None and failing.offset == record.offset else 0

    def _retry_later(self, tp: TopicPartition, record: ConsumerRecord, exc: BaseException) -> None:
        assert self.consumer is not None
        health = self._of(tp)
        now = health.clock()
        transient = is_transient(exc)
        self.metrics.failures.labels(health.topic, "transient" if transient else "unexpected").inc()
        with health._lock:
            failing = health.failing.get(tp.partition)
            if failing is None or failing.offset != record.offset:
                failing = _Failing(offset=record.offset, since=now)
                health.failing[tp.partition] = failing
            failing.attempts += 1
            failing.exc_type = type(exc).__name__
            failing.transient = transient
            backoff = min(self.first_backoff * 2 ** (failing.attempts - 1), self.retry_window)
            failing.retry_at = now + backoff
        # Only this partition waits: back to the failing record, paused until its next attempt.
        self.consumer.seek(tp, record.offset)
        self.consumer.pause(tp)
        kind = "transient" if transient else "unexpected"
        log.warning(
            f"{health.topic} partition {tp.partition}: {kind} {type(exc).__name__} "
            f"(attempt {failing.attempts}); retrying in {backoff:.1f}s, other partitions go on",
            extra={"exc": type(exc).__name__, "topic": health.topic},
            exc_info=not transient,
        )

    def _resume_due(self) -> None:
        assert self.consumer is not None
        now = self._clock()
        paused = self.consumer.paused()
        due = [tp for tp in paused if (f := self._of(tp).failing.get(tp.partition)) is None or f.retry_at <= now]
        if due:
            self.consumer.resume(*due)

    def _forget_revoked(self, assignment: set[TopicPartition]) -> None:
        for topic, health in self.healths.items():
            owned = {tp.partition for tp in assignment if tp.topic == self.settings.topic(topic)}
            with health._lock:
                for partition in [p for p in health.failing if p not in owned]:
                    del health.failing[partition]  # its new owner retries it

    def _refresh_lag(self, assignment: set[TopicPartition]) -> None:
        """Lag per owned partition: log end (the last fetch's high watermark, or asked for once when a
        partition has not been fetched yet) minus the next record to process. Bounded waits only,
        so a slow broker delays the gauge, never the records."""
        now = self._clock()
        if now < self._next_lag or self.consumer is None:
            return
        self._next_lag = now + self.lag_interval
        try:
            ends: dict[TopicPartition, int | None] = {tp: self.consumer.highwater(tp) for tp in assignment}
            unknown = [tp for tp, end in ends.items() if end is None]
            if unknown:
                ends.update(self.consumer.end_offsets(unknown, timeout_ms=5000))
            lag: dict[str, dict[int, int]] = {t: {} for t in self.topics}
            for tp, end in ends.items():
                health = self._of(tp)
                failing = health.failing.get(tp.partition)
                position = failing.offset if failing is not None else self.consumer.position(tp, timeout_ms=5000)
                if end is not None and position is not None:
                    lag[health.topic][tp.partition] = max(0, int(end) - int(position))
        except Exception as exc:
            self._broker_trouble(exc)
            return
        self._broker_ok()
        for topic, health in self.healths.items():
            for partition in set(health.lag) - set(lag[topic]):
                self.metrics.lag.remove(topic, str(partition))
            for partition, value in lag[topic].items():
                self.metrics.lag.labels(topic, str(partition)).set(value)
            health.lag = lag[topic]

    def _dead_letter(self, record: ConsumerRecord, reason: str, code: str) -> None:
        assert self.producer is not None
        headers = dlq_record_headers(
            reason=reason,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self.group_id,
        )
        headers.append(("dlq.reason.code", code.encode()[:64]))
        base = logical_topic(self.settings.topic_prefix, record.topic)
        value = record.value if record.value is not None else b""
        self.producer.send_raw(dlq(base), record.key, value, headers).get(timeout=15)
        self.dead_lettered += 1
        log.warning(
            f"{base} partition {record.partition}: message dead-lettered ({code})",
            extra={"topic": base},
        )
        if self.on_dead_letter is not None:
            self.on_dead_letter(record, reason, code)

    def _commit(self, tp: TopicPartition, record: ConsumerRecord) -> None:
        self._commit_many({tp: record})

    def _commit_many(self, last: dict[TopicPartition, ConsumerRecord]) -> None:
        """Commit each partition past its record of ``last``, in one request."""
        assert self.consumer is not None
        offsets = {tp: OffsetAndMetadata(record.offset + 1, "", -1) for tp, record in last.items()}
        for attempt in range(5):
            try:
                self.consumer.commit(offsets)
                return
            except Exception:  # rebalance in progress: the record may be replayed, handling is idempotent
                if attempt == 4:
                    log.warning("offset commit failed; record may be replayed", extra={"topic": self.topic})
                    return
                time.sleep(0.2)  # between commit attempts, not test synchronisation
