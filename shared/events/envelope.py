"""CloudEvents 1.0 envelope (structured JSON mode) and the typed, versioned payload registry.

One codec serves kafka-python producers and faust agents alike: faust topics are declared
with raw bytes and call :func:`decode`, so no faust metadata ever travels on the wire.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPECVERSION: Literal["1.0"] = "1.0"


class DecodeError(ValueError):
    """A message that cannot become a typed event; ``reason`` is safe to log (no values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EventPayload(BaseModel):
    """Base of every event payload. Pseudonymous ids only: never a name, date of birth or contact."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    TYPE: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1
    SOURCE: ClassVar[str] = ""

    case_id: str = Field(min_length=1, max_length=64)


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = SPECVERSION
    id: str = Field(min_length=1, max_length=128)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str = Field(min_length=1, max_length=64)
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschemaversion: int = Field(ge=1)
    data: dict[str, Any]


P = TypeVar("P", bound=EventPayload)
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_TYPES: dict[str, type[EventPayload]] = {}
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def event_type(type_name: str, version: int = 1, source: str = "") -> Callable[[type[P]], type[P]]:
    """Register a payload class as the current version of ``type_name``."""

    def register(cls: type[P]) -> type[P]:
        if type_name in _TYPES and _TYPES[type_name] is not cls:
            raise RuntimeError(f"event type {type_name} registered twice")
        cls.TYPE, cls.VERSION, cls.SOURCE = type_name, version, source
        _TYPES[type_name] = cls
        return cls

    return register


def upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn(data_vN) -> data_vN+1`` (pyeventsourcing's ``upcast_v1_v2`` convention)."""

    def register(fn: Upcaster) -> Upcaster:
        _UPCASTERS[(type_name, from_version)] = fn
        return fn

    return register


def registered_types() -> dict[str, type[EventPayload]]:
    return dict(_TYPES)


@dataclass(frozen=True)
class Event:
    """A decoded event: the envelope plus its payload lifted to the current version."""

    envelope: CloudEvent
    payload: EventPayload

    @property
    def id(self) -> str:
        return self.envelope.id

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def case_id(self) -> str:
        return self.envelope.subject

    @property
    def time(self) -> datetime:
        return self.envelope.time


def new_event(
    payload: EventPayload,
    *,
    event_id: str | None = None,
    time: datetime | None = None,
    source: str | None = None,
) -> CloudEvent:
    cls = type(payload)
    if not cls.TYPE:
        raise RuntimeError(f"{cls.__name__} is not a registered event type")
    return CloudEvent(
        id=event_id or str(uuid.uuid4()),
        source=source or cls.SOURCE or "/centinela",
        type=cls.TYPE,
        subject=payload.case_id,
        time=(time or datetime.now(UTC)).astimezone(UTC),
        dataschemaversion=cls.VERSION,
        data=payload.model_dump(mode="json"),
    )


def encode(event: CloudEvent | EventPayload) -> bytes:
    """Bytes for the wire: compact JSON, UTF-8."""
    if isinstance(event, EventPayload):
        event = new_event(event)
    return event.model_dump_json(exclude_none=False).encode("utf-8")


def key_for(case_id: str) -> bytes:
    """Every case topic is keyed by the raw UTF-8 case id (same partition in kafka-python and aiokafka)."""
    return case_id.encode("utf-8")


def decode(raw: bytes | str | dict[str, Any]) -> Event:
    """Parse, upcast and validate; raises :class:`DecodeError` with a value-free reason."""
    try:
        doc = raw if isinstance(raw, dict) else json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError(f"not JSON: {type(exc).__name__} at position {getattr(exc, 'pos', '?')}") from None
    if not isinstance(doc, dict):
        raise DecodeError("not a JSON object")
    try:
        envelope = CloudEvent.model_validate(doc)
    except ValidationError as exc:
        raise DecodeError("invalid envelope: " + _fields(exc)) from None
    cls = _TYPES.get(envelope.type)
    if cls is None:
        raise DecodeError(f"unknown event type {envelope.type!r}")
    version, data = envelope.dataschemaversion, dict(envelope.data)
    if version > cls.VERSION:
        raise DecodeError(f"{envelope.type} version {version} is newer than supported {cls.VERSION}")
    while version < cls.VERSION:
        up = _UPCASTERS.get((envelope.type, version))
        if up is None:
            raise DecodeError(f"no upcaster for {envelope.type} v{version}")
        data, version = up(data), version + 1
    try:
        payload = cls.model_validate(data)
    except ValidationError as exc:
        raise DecodeError(f"invalid {envelope.type} data: " + _fields(exc)) from None
    if payload.case_id != envelope.subject:
        raise DecodeError("subject does not match data.case_id")
    envelope = envelope.model_copy(update={"dataschemaversion": version, "data": payload.model_dump(mode="json")})
    return Event(envelope=envelope, payload=payload)


def _fields(exc: ValidationError) -> str:
    """Which fields failed and why, never the offending values (they may be personal data)."""
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{loc}: {err['type']}")
    return "; ".join(parts)
