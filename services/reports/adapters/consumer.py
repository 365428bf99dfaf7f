"""The read model's consumer: ``case-events``, ``legal-events`` and ``alerts`` -> :class:`Projector`.

One :class:`shared.consumer.PartitionedConsumer` of the three topics in one group: offsets are
committed after the fold; an undecodable record, or one whose values the projector cannot fold
(a ``ValueError``), goes to ``<topic>.dlq`` with the reason; a database outage retries the record,
holding back only its partition; ``/readyz`` names a topic whose partition is stuck.
"""

from __future__ import annotations

import json
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from services.reports.service.projector import Projector
from services.reports.settings import ReportsSettings
from shared.consumer import PartitionedConsumer, decode_event
from shared.events import Event
from shared.topics import ALERTS, CASE_EVENTS, LEGAL_EVENTS

TOPICS = [CASE_EVENTS, LEGAL_EVENTS, ALERTS]


def decode_record(record: ConsumerRecord) -> tuple[Event, dict[str, Any]]:
    event = decode_event(record)
    # the raw data too: optional coarse codes (age band, sex) a newer producer may add are read
    # from it, since the typed payload drops fields it does not know
    raw = json.loads(record.value)
    data = raw.get("data") if isinstance(raw, dict) else None
    return event, data if isinstance(data, dict) else {}


def unfoldable(exc: BaseException) -> tuple[str, str] | None:
    """A value the projector cannot fold will not fold next time either: poison, named by its type."""
    if isinstance(exc, ValueError):
        return f"value the read model cannot fold ({type(exc).__name__})", "invalid"
    return None


def reports_consumer(
    settings: ReportsSettings, projector: Projector
) -> PartitionedConsumer[tuple[Event, dict[str, Any]]]:
    def handle(record: ConsumerRecord, item: tuple[Event, dict[str, Any]]) -> None:
        event, raw = item
        projector.handle(event, raw)

    return PartitionedConsumer(
        settings, TOPICS, settings.reports_consumer_group, decode_record, handle, poison=unfoldable
    )
