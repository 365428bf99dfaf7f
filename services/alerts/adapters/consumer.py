"""Kafka adapter of the ``alerts`` topic: decodes each record and hands it to the ingest use case.

It runs on a partition-aware consumer that tells poison from trouble:

* a record that can never be processed — empty, not a CloudEvent, an unknown type, a time outside
  the sane range (``shared.bounds``: an ``OverflowError`` further down otherwise), or an unexpected
  error that repeats ``CENTINELA_ALERTS_CONSUMER_MAX_ATTEMPTS`` times — goes to ``alerts.dlq``
  with ``dlq.reason`` (naming the field, never a value) and the consumer moves on;
* database or broker trouble is retried with backoff, never dead-lettered, and holds back only
  the failing partition;
* a partition failing for ``CENTINELA_ALERTS_CONSUMER_STUCK_AFTER_SECONDS`` makes ``/readyz``
  answer 503 naming the partition and the exception type, and sets the stuck gauge.

Facts this service made itself (acknowledged, escalated, resolved by hand) were applied and
notified where they were made; they are skipped here instead of being applied a second time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from services.alerts import metrics as m
from services.alerts.service.ingest import AlertIngestor, made_here
from services.alerts.settings import AlertsSettings

# TODO(shared): the partition-aware consumer belongs in shared.kafka (one for every service);
# until it moves there it lives with its first user, the legal service.
from services.legal.adapters.partitioned_consumer import PartitionedConsumer

# ``centinela.alert.updated``: defined by the processor until it moves to shared.events.alerts
from services.processor.domain.updates import AlertUpdated
from shared.bounds import check_datetime
from shared.events import DecodeError, Event, decode
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved
from shared.kafka import InvalidMessage, kafka_python_security
from shared.topics import ALERTS

#: the instant each fact carries; a processor clock this far ahead of ours is refused as broken
_TIME_FIELD = {
    AlertRaised: "raised_at",
    AlertResolved: "resolved_at",
    AlertAcknowledged: "acknowledged_at",
    AlertEscalated: "escalated_at",
    AlertUpdated: "updated_at",
}
_AHEAD = timedelta(days=1)

log = logging.getLogger(__name__)


class AlertsTopicIngestor:
    def __init__(self, ingestor: AlertIngestor) -> None:
        self.ingestor = ingestor

    def decode(self, record: ConsumerRecord) -> Event:
        if not record.value:
            raise InvalidMessage("empty record")
        try:
            event = decode(record.value)
        except DecodeError as exc:
            raise InvalidMessage(exc.reason) from None
        name = _TIME_FIELD.get(type(event.payload))
        if name is None:
            raise InvalidMessage(f"unexpected event type {event.type} on alerts")
        try:
            check_datetime(getattr(event.payload, name), ahead=_AHEAD)
        except ValueError:  # out of range, or an offset that overflows: never an OverflowError further down
            raise InvalidMessage(f"data.{name} must be on or after 1900-01-01 and at most a day ahead") from None
        return event

    def handle(self, record: ConsumerRecord, event: Event) -> None:
        if made_here(event):
            return
        self.ingestor.apply(event)

    def handle_many(self, records: list[ConsumerRecord], events: list[Event]) -> None:
        self.ingestor.apply_many([e for e in events if not made_here(e)])


class BatchingConsumer(PartitionedConsumer[Event]):
    """Stores what one poll brought for a partition as a batch, falling back to record by record.

    The batch is the fast path (a few database round trips for up to ``max_poll_records`` alerts,
    one offset commit). When anything in it fails — a poison record, the database away — the same
    records go through the per-record path, which tells poison from trouble, dead-letters or
    retries each one; re-applying the part of the batch that was stored is harmless (idempotent).
    A partition already failing stays on the per-record path until its record is through.
    """

    def __init__(
        self,
        *args: Any,
        handle_many: Callable[[list[ConsumerRecord], list[Event]], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.handle_many = handle_many
        self.batches = 0

    def _consume(self) -> None:
        # the partitioned consumer's loop, with the batch tried first for each partition's records
        self.consumer = KafkaConsumer(
            self.settings.topic(self.topic),
            bootstrap_servers=self.settings.kafka_bootstrap.split(","),
            group_id=self.settings.topic(self.group_id),
            enable_auto_commit=False,
            auto_offset_reset=self.auto_offset_reset,
            max_poll_records=500,
            session_timeout_ms=10000,
            heartbeat_interval_ms=3000,
            # TLS / SASL as configured (CENTINELA_KAFKA_SECURITY_PROTOCOL ...): a secured broker refuses plaintext
            **kafka_python_security(self.settings),
        )
        try:
            while not self._stop.is_set():
                self._resume_due()
                batch = self.consumer.poll(timeout_ms=200 if self.health.failing else 500)
                assignment = self.consumer.assignment()
                if assignment:
                    self.assigned.set()
                for tp, records in batch.items():
                    if self._stop.is_set():
                        break
                    if self._process_batch(tp, records):
                        continue
                    for record in records:
                        if self._stop.is_set() or not self._process(tp, record):
                            break  # paused (or stopping): the rest of this partition waits its turn
                self._forget_revoked(assignment)
                self._refresh_lag(assignment)
                self.health.refresh_gauge()
        finally:
            self.consumer.close(autocommit=False)

    def _process_batch(self, tp: TopicPartition, records: list[ConsumerRecord]) -> bool:
        """True when every record was stored and the partition's offset committed past them."""
        if len(records) < 2 or tp.partition in self.health.failing:
            return False
        try:
            events = [self.decode(r) for r in records]
            self.handle_many(records, events)
        except Exception as exc:  # the per-record path finds which record, and whether it is poison
            log.info("batch fell back to one record at a time", extra={"exc": type(exc).__name__, "topic": self.topic})
            return False
        self.processed += len(records)
        self.batches += 1
        self._commit(tp, records[-1])
        return True


def alerts_consumer(settings: AlertsSettings, ingestor: AlertIngestor) -> BatchingConsumer:
    topic = AlertsTopicIngestor(ingestor)

    def dead_lettered(record: ConsumerRecord, reason: str, code: str) -> None:
        m.dead_lettered.labels(code).inc()

    return BatchingConsumer(
        settings,
        ALERTS,
        settings.alerts_consumer_group,
        topic.decode,
        topic.handle,
        handle_many=topic.handle_many,
        on_dead_letter=dead_lettered,
        max_attempts=settings.alerts_consumer_max_attempts,
        retry_window=settings.alerts_consumer_retry_window_seconds,
        stuck_after=settings.alerts_consumer_stuck_after_seconds,
        lag_interval=settings.alerts_consumer_lag_interval_seconds,
    )
