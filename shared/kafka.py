"""kafka-python adapters: a safe producer and a consumer loop that routes poison to a DLQ.

Delivery is at-least-once: offsets are committed only after the handler returned, so a crash
replays the last records and consumers stay idempotent by event id.

Broker authentication and encryption come from the common settings (``CENTINELA_KAFKA_SECURITY_PROTOCOL``,
``CENTINELA_KAFKA_SASL_*``, ``CENTINELA_KAFKA_SSL_*``) through one builder per client library, so every
client of every process connects the same way: :func:`kafka_python_security` (KafkaProducer,
KafkaConsumer, KafkaAdminClient), :func:`aiokafka_security` (AIOKafkaProducer / AIOKafkaConsumer) and
:func:`faust_credentials` (``faust.App(broker_credentials=...)``).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from shared.events import CloudEvent, EventPayload, encode, key_for, new_event
from shared.settings import CommonSettings
from shared.topics import dlq

log = logging.getLogger(__name__)

T = TypeVar("T")

# -- topic names and dead-letter headers: the one copy every consumer (kafka-python, faust) uses ----

# Header names of a dead-lettered record; integrators and tooling read them (docs: events).
DLQ_REASON = "dlq.reason"
DLQ_SOURCE_TOPIC = "dlq.source.topic"
DLQ_SOURCE_PARTITION = "dlq.source.partition"
DLQ_SOURCE_OFFSET = "dlq.source.offset"
DLQ_CONSUMER_GROUP = "dlq.consumer.group"
DLQ_FAILED_AT = "dlq.failed_at"
DLQ_REASON_MAX_BYTES = 1000


def physical_topic(prefix: str, name: str) -> str:
    """The broker's name of catalogue topic ``name`` under ``prefix`` (``CommonSettings.topic``)."""
    return f"{prefix}{name}"


def logical_topic(prefix: str, physical: str) -> str:
    """The catalogue name of a broker topic: ``prefix`` stripped when present, else unchanged."""
    return physical[len(prefix) :] if prefix and physical.startswith(prefix) else physical


def dlq_topic(prefix: str, physical: str) -> str:
    """Broker name of the dead-letter topic for records read from broker topic ``physical``."""
    return physical_topic(prefix, dlq(logical_topic(prefix, physical)))


def dlq_record_headers(
    *,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    group: str,
    failed_at: datetime | None = None,
) -> list[tuple[str, bytes]]:
    """Headers of a dead-lettered record: why (``reason``, a machine code or a message naming the
    field, never a value) and where it came from, so an operator can replay it after a fix."""
    return [
        (DLQ_REASON, reason.encode()[:DLQ_REASON_MAX_BYTES]),
        (DLQ_SOURCE_TOPIC, topic.encode()),
        (DLQ_SOURCE_PARTITION, str(partition).encode()),
        (DLQ_SOURCE_OFFSET, str(offset).encode()),
        (DLQ_CONSUMER_GROUP, group.encode()),
        (DLQ_FAILED_AT, (failed_at or datetime.now(UTC)).isoformat().encode()),
    ]


# -- broker security: one translation of the settings per client library --------------------------------


def _uses_ssl(settings: CommonSettings) -> bool:
    return settings.kafka_security_protocol in ("SSL", "SASL_SSL")


def _uses_sasl(settings: CommonSettings) -> bool:
    return settings.kafka_security_protocol.startswith("SASL_")


def kafka_python_security(settings: CommonSettings) -> dict[str, Any]:
    """Keyword arguments for kafka-python's KafkaProducer, KafkaConsumer and KafkaAdminClient."""
    config: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if _uses_ssl(settings):
        config.update(
            ssl_check_hostname=settings.kafka_ssl_check_hostname,
            ssl_cafile=settings.kafka_ssl_cafile or None,
            ssl_certfile=settings.kafka_ssl_certfile or None,
            ssl_keyfile=settings.kafka_ssl_keyfile or None,
            ssl_password=settings.kafka_ssl_key_password.get_secret_value() or None,
        )
    if _uses_sasl(settings):
        config.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return config


def kafka_ssl_context(settings: CommonSettings) -> ssl.SSLContext | None:
    """The TLS context of the asyncio clients (aiokafka, faust); ``None`` without TLS."""
    if not _uses_ssl(settings):
        return None
    from aiokafka.helpers import create_ssl_context

    context = create_ssl_context(
        cafile=settings.kafka_ssl_cafile or None,
        certfile=settings.kafka_ssl_certfile or None,
        keyfile=settings.kafka_ssl_keyfile or None,
        password=settings.kafka_ssl_key_password.get_secret_value() or None,
    )
    context.check_hostname = settings.kafka_ssl_check_hostname
    return context


def aiokafka_security(settings: CommonSettings) -> dict[str, Any]:
    """Keyword arguments for aiokafka's AIOKafkaProducer and AIOKafkaConsumer."""
    config: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    context = kafka_ssl_context(settings)
    if context is not None:
        config["ssl_context"] = context
    if _uses_sasl(settings):
        config.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password.get_secret_value(),
        )
    return config


def faust_credentials(settings: CommonSettings) -> Any:
    """``broker_credentials`` for ``faust.App`` (None for PLAINTEXT); faust hands them to aiokafka."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    import faust

    context = kafka_ssl_context(settings)
    if protocol == "SSL":
        return faust.SSLCredentials(context)
    credentials = faust.SASLCredentials(
        username=settings.kafka_sasl_username,
        password=settings.kafka_sasl_password.get_secret_value(),
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )
    return credentials


class Producer:
    """acks=all, idempotent, bounded retries; ``close`` flushes whatever is buffered."""

    def __init__(self, settings: CommonSettings, client_id: str) -> None:
        self.settings = settings
        self._producer = KafkaProducer(
            **kafka_python_security(settings),
            bootstrap_servers=settings.kafka_bootstrap.split(","),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            retries=2**31 - 1,
            max_in_flight_requests_per_connection=5,
            request_timeout_ms=15000,
            delivery_timeout_ms=30000,
            max_block_ms=10000,
        )

    def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
    ) -> Any:
        """Send to a catalogue topic (the prefix is applied here). Returns a future."""
        return self._producer.send(self.settings.topic(topic), key=key, value=value, headers=headers or [])

    def publish(self, topic: str, event: CloudEvent | EventPayload) -> Any:
        envelope = new_event(event) if isinstance(event, EventPayload) else event
        return self.send_raw(topic, key_for(envelope.subject), encode(envelope))

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float = 10.0) -> None:
        try:
            self._producer.flush(timeout=timeout)
        finally:
            self._producer.close(timeout=timeout)


class InvalidMessage(ValueError):
    """Raised by a decoder or handler for input that will never succeed: it goes to the DLQ."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class ConsumerStats:
    processed: int = 0
    dead_lettered: int = 0
    retries: int = 0


class ConsumerLoop(Generic[T]):
    """Poll ``topics``, decode each record, call ``handler``; poison goes to ``<topic>.dlq``.

    Still used by the reports projector. New consumers use :class:`shared.consumer.PartitionedConsumer`:
    it tells poison from trouble per partition (this loop retries an unexpected exception forever
    on one record, holding back every partition) and reports lag and stuck state.

    * ``decode(record) -> T`` raises :class:`InvalidMessage` (or ``ValueError``) for bad input.
    * ``handler(record, item)`` may raise :class:`InvalidMessage` for bad input too; any other
      exception is treated as transient (database down): the record is retried with backoff and
      its offset is not committed, so nothing is lost.
    """

    def __init__(
        self,
        settings: CommonSettings,
        topics: list[str],
        group_id: str,
        decode: Callable[[ConsumerRecord], T],
        handler: Callable[[ConsumerRecord, T], None],
        *,
        producer: Producer | None = None,
        on_dead_letter: Callable[[ConsumerRecord, str], None] | None = None,
        auto_offset_reset: str = "earliest",
        max_backoff: float = 10.0,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.group_id = group_id
        self.decode = decode
        self.handler = handler
        # Built lazily inside the consumer thread: creating a kafka-python client blocks while the
        # broker is down, and a down broker must delay consumption, never a service's start-up.
        self.producer: Producer | None = producer
        self._own_producer = producer is None
        self.on_dead_letter = on_dead_letter
        self.auto_offset_reset = auto_offset_reset
        self.max_backoff = max_backoff
        self.stats = ConsumerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.consumer: KafkaConsumer | None = None
        self.assigned = threading.Event()

    # -- lifecycle
    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"consumer-{self.group_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._own_producer and self.producer is not None:
            self.producer.close()

    def run(self) -> None:
        """Consume until stopped; restarts with backoff while the broker is unreachable (or the
        consumer fails for any other reason), so a broker outage only delays consumption."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                if self.producer is None:
                    producer = Producer(self.settings, client_id=f"{self.group_id}-dlq")
                    if self._stop.is_set():  # stop() came while the broker was being reached
                        producer.close()
                        return
                    self.producer = producer
                self._consume()
                return
            except Exception as exc:
                log.warning(
                    "consumer unavailable; restarting", extra={"exc": type(exc).__name__, "topic": self.topics[0]}
                )
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _consume(self) -> None:
        self.consumer = KafkaConsumer(
            *[self.settings.topic(t) for t in self.topics],
            **kafka_python_security(self.settings),
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=self.settings.topic(self.group_id),
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            max_poll_records=200,
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
        )
        try:
            while not self._stop.is_set():
                batch = self.consumer.poll(timeout_ms=500)
                if self.consumer.assignment():
                    self.assigned.set()
                for records in batch.values():
                    for record in records:
                        if not self._process(record):
                            break  # stopping: uncommitted records are re-read by whoever owns tp next
                    else:
                        continue
                    break
        finally:
            self.consumer.close(autocommit=False)

    # -- one record
    def _process(self, record: ConsumerRecord) -> bool:
        delay = 0.2
        while not self._stop.is_set():
            try:
                item = self.decode(record)
                self.handler(record, item)
            except (InvalidMessage, ValueError) as exc:
                reason = exc.reason if isinstance(exc, InvalidMessage) else str(exc)
                self._dead_letter(record, reason)
                self._commit(record)
                return True
            except Exception as exc:  # transient: retry the same record, never skip it
                self.stats.retries += 1
                log.warning(
                    "handler failed, retrying",
                    extra={"topic": record.topic, "exc": type(exc).__name__},
                    exc_info=True,
                )
                self._stop.wait(delay)
                delay = min(delay * 2, self.max_backoff)
                continue
            self.stats.processed += 1
            self._commit(record)
            return True
        return False

    def _dead_letter(self, record: ConsumerRecord, reason: str) -> None:
        base = logical_topic(self.settings.topic_prefix, record.topic)
        headers = dlq_record_headers(
            reason=reason, topic=record.topic, partition=record.partition, offset=record.offset, group=self.group_id
        )
        value = record.value if record.value is not None else b""
        assert self.producer is not None  # built before consuming starts
        self.producer.send_raw(dlq(base), record.key, value, headers).get(timeout=30)
        self.stats.dead_lettered += 1
        log.warning("message dead-lettered", extra={"topic": record.topic})
        if self.on_dead_letter:
            self.on_dead_letter(record, reason)

    def _commit(self, record: ConsumerRecord) -> None:
        assert self.consumer is not None
        tp = TopicPartition(record.topic, record.partition)
        for attempt in range(5):
            try:
                self.consumer.commit({tp: OffsetAndMetadata(record.offset + 1, "", -1)})
                return
            except Exception:  # rebalance in progress: the record may be replayed, handlers are idempotent
                if attempt == 4:
                    log.warning("offset commit failed; record may be replayed", extra={"topic": record.topic})
                    return
                time.sleep(0.2)


def dlq_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """Decode DLQ headers of a record into a dict (for tests and tooling)."""
    return {k: v.decode("utf-8", "replace") for k, v in (headers or []) if k.startswith("dlq.")}
