"""Kafka adapter of the ``alerts`` topic: decodes each record and hands it to the ingest use case.

Facts this service made itself (acknowledged, escalated, resolved by hand) were applied and
notified where they were made; they are skipped here instead of being applied a second time.
"""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord

from services.alerts.service.ingest import AlertIngestor, made_here
from shared.events import Event, decode
from shared.kafka import InvalidMessage


class AlertsTopicIngestor:
    def __init__(self, ingestor: AlertIngestor) -> None:
        self.ingestor = ingestor

    def decode(self, record: ConsumerRecord) -> Event:
        if record.value is None:
            raise InvalidMessage("empty record")
        return decode(record.value)  # DecodeError is a ValueError: the record goes to alerts.dlq

    def handle(self, record: ConsumerRecord, event: Event) -> None:
        if made_here(event):
            return
        self.ingestor.apply(event)
