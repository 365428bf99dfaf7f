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
from datetime import timedelta

from kafka.consumer.fetcher import ConsumerRecord

from services.alerts import metrics as m
from services.alerts.service.ingest import AlertIngestor, made_here
from services.alerts.settings import AlertsSettings

# ``centinela.alert.updated``: defined by the processor until it moves to shared.events.alerts
from services.processor.domain.updates import AlertUpdated
from shared.bounds import check_datetime
from shared.consumer import PartitionedConsumer
from shared.events import DecodeError, Event, decode
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved
from shared.kafka import InvalidMessage
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


def alerts_consumer(settings: AlertsSettings, ingestor: AlertIngestor) -> PartitionedConsumer[Event]:
    """The ``alerts`` consumer: what one poll brought for a partition is stored as a batch (a few
    database round trips for up to 500 alerts, one commit), falling back to record by record, which
    tells poison from trouble, when anything in the batch fails."""
    topic = AlertsTopicIngestor(ingestor)

    def dead_lettered(record: ConsumerRecord, reason: str, code: str) -> None:
        m.dead_lettered.labels(code).inc()

    return PartitionedConsumer(
        settings,
        ALERTS,
        settings.alerts_consumer_group,
        topic.decode,
        topic.handle,
        handle_many=topic.handle_many,
        max_poll_records=500,
        on_dead_letter=dead_lettered,
        max_attempts=settings.alerts_consumer_max_attempts,
        retry_window=settings.alerts_consumer_retry_window_seconds,
        stuck_after=settings.alerts_consumer_stuck_after_seconds,
        lag_interval=settings.alerts_consumer_lag_interval_seconds,
    )
