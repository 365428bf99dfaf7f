"""The processor's topics: raw bytes in and out, decoded and encoded by the shared codec.

Names are the catalogue's (shared.topics) with ``CENTINELA_TOPIC_PREFIX``; no faust metadata on the
wire, so the producers of the other services (kafka-python) and this agent read the same records.
"""

from __future__ import annotations

from typing import Any

from faust.types import TopicT

from services.processor.app import app, settings
from shared.topics import ALERTS, CASE_EVENTS, LEGAL_EVENTS, dlq

# internal: the processor's own re-evaluation requests, one per due deadline, on the case's partition
TICKS = "centinela-alerts-processor-ticks"

RAW: dict[str, Any] = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}

case_topic_name = settings.topic(CASE_EVENTS)
legal_topic_name = settings.topic(LEGAL_EVENTS)
ticks_topic_name = settings.topic(TICKS)
alerts_topic_name = settings.topic(ALERTS)

case_events_topic = app.topic(case_topic_name, **RAW)
legal_events_topic = app.topic(legal_topic_name, **RAW)
# internal=True: faust declares (creates if missing) the ticks topic, with the case topics' partition
# count; the catalogue topics already exist (shared.topics) and are left untouched.
ticks_topic = app.topic(ticks_topic_name, partitions=settings.partitions, internal=True, **RAW)
# One agent reads them all so that every write to a case's state is serialised. From `alerts` it
# only takes the resolutions a person made in the alerts service (its own facts come back too and
# are skipped): the processor must know an episode was closed by hand.
source_topic = app.topic(
    case_topic_name,
    legal_topic_name,
    ticks_topic_name,
    alerts_topic_name,
    partitions=settings.partitions,
    internal=True,
    **RAW,
)
alerts_topic = app.topic(alerts_topic_name, **RAW)


def logical(topic: str) -> str:
    """Catalogue name of a physical topic (``ticks`` for the internal one): metrics labels, DLQ names."""
    prefix = settings.topic_prefix
    name = topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic
    return "ticks" if name == TICKS else name


def dlq_topic(topic: str) -> TopicT:
    """``<topic>.dlq`` for records read from physical ``topic``."""
    return app.topic(settings.topic(dlq(logical(topic))), **RAW)
