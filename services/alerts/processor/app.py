"""faust app: folds case and legal events into per-case state and evaluates the rules."""

from __future__ import annotations

import os

import faust

from services.alerts.settings import AlertsSettings
from shared.topics import CASE_EVENTS, LEGAL_EVENTS

settings = AlertsSettings()


def _broker(bootstrap: str) -> list[str]:
    return [f"kafka://{s.strip()}" for s in bootstrap.split(",")]


app = faust.App(
    settings.topic("centinela-alerts-processor"),
    broker=_broker(settings.kafka_bootstrap),
    store="memory://",
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    topic_allow_declare=True,
    web_host=os.environ.get("CENTINELA_PROCESSOR_WEB_HOST", "127.0.0.1"),
    producer_acks=-1,
    consumer_auto_offset_reset="earliest",
)

# Raw bytes in: the shared codec decodes (no faust metadata on the wire).
case_events_topic = app.topic(
    settings.topic(CASE_EVENTS), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
legal_events_topic = app.topic(
    settings.topic(LEGAL_EVENTS), key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
)
