"""The read model's consumer: ``case-events``, ``legal-events`` and ``alerts`` -> :class:`Projector`.

kafka-python through :class:`shared.kafka.ConsumerLoop`: offsets are committed after the fold, an
undecodable record goes to ``<topic>.dlq`` with the reason, a database outage retries the record.
"""

from __future__ import annotations

import json
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from services.reports.service.projector import Projector
from services.reports.settings import ReportsSettings
from shared.events import Event, decode
from shared.kafka import ConsumerLoop, InvalidMessage
from shared.topics import ALERTS, CASE_EVENTS, LEGAL_EVENTS

TOPICS = [CASE_EVENTS, LEGAL_EVENTS, ALERTS]


def decode_record(record: ConsumerRecord) -> tuple[Event, dict[str, Any]]:
    if record.value is None:
        raise InvalidMessage("empty record")
    event = decode(record.value)
    # the raw data too: optional coarse codes (age band, sex) a newer producer may add are read
    # from it, since the typed payload drops fields it does not know
    raw = json.loads(record.value)
    data = raw.get("data") if isinstance(raw, dict) else None
    return event, data if isinstance(data, dict) else {}


def reports_consumer(settings: ReportsSettings, projector: Projector) -> ConsumerLoop[tuple[Event, dict[str, Any]]]:
    def handle(record: ConsumerRecord, item: tuple[Event, dict[str, Any]]) -> None:
        event, raw = item
        projector.handle(event, raw)

    return ConsumerLoop(settings, TOPICS, settings.reports_consumer_group, decode_record, handle)
