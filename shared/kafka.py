"""kafka-python adapters: a safe producer, the DLQ headers and topic names every consumer uses, and
the broker security of every client. The consumer itself is :class:`shared.consumer.PartitionedConsumer`
(at-least-once: offsets are committed only after the handler returned, so a crash replays the last
records and consumers stay idempotent by event id).

Broker authentication and encryption come from the common settings (``CENTINELA_KAFKA_SECURITY_PROTOCOL``,
``CENTINELA_KAFKA_SASL_*``, ``CENTINELA_KAFKA_SSL_*``) through one builder per client library, so every
client of every process connects the same way: :func:`kafka_python_security` (KafkaProducer,
KafkaConsumer, KafkaAdminClient), :func:`aiokafka_security` (AIOKafkaProducer / AIOKafkaConsumer) and
:func:`faust_credentials` (``faust.App(broker_credentials=...)``).
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any

from kafka import KafkaProducer

from shared.events import CloudEvent, EventPayload, encode, key_for, new_event
from shared.settings import CommonSettings
from shared.topics import dlq

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


def _sasl(settings: CommonSettings) -> dict[str, Any]:
    """The SASL keywords kafka-python and aiokafka share (none without SASL)."""
    if not _uses_sasl(settings):
        return {}
    return {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_sasl_username,
        "sasl_plain_password": settings.kafka_sasl_password.get_secret_value(),
    }


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
    config.update(_sasl(settings))
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
    config.update(_sasl(settings))
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


def dlq_headers(headers: list[tuple[str, bytes]] | None) -> dict[str, str]:
    """Decode DLQ headers of a record into a dict (for tests and tooling)."""
    return {k: v.decode("utf-8", "replace") for k, v in (headers or []) if k.startswith("dlq.")}
