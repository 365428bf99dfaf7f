"""Event contract: envelope, codec and every registered payload type."""

from shared.events import alerts, case, legal  # noqa: F401  (registers the payload types)
from shared.events.envelope import (
    CloudEvent,
    DecodeError,
    Event,
    EventPayload,
    decode,
    encode,
    event_type,
    key_for,
    new_event,
    registered_types,
    upcaster,
)

__all__ = [
    "CloudEvent",
    "DecodeError",
    "Event",
    "EventPayload",
    "decode",
    "encode",
    "event_type",
    "key_for",
    "new_event",
    "registered_types",
    "upcaster",
]
