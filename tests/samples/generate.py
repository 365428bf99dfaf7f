"""Write a sample CloudEvent for every registered event type and version that has none yet.

    python -m tests.samples.generate          # writes missing samples only, never rewrites one

Samples are fixtures: once committed they are the proof that old events keep decoding. A
breaking change to a payload must bump its version and add an upcaster; the old sample then
still decodes (through the upcaster) and this script writes the sample of the new version.
"""

from __future__ import annotations

import json
import sys
import types
import typing
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from shared.events import EventPayload, new_event, registered_types

SAMPLES = Path(__file__).resolve().parent
SAMPLE_CASE_ID = "case-0001-sample"
SAMPLE_TIME = datetime(2025, 3, 14, 15, 9, 26, tzinfo=UTC)
SAMPLE_DATE = date(2025, 3, 14)


def sample_path(type_name: str, version: int) -> Path:
    return SAMPLES / type_name / f"v{version}.json"


def is_catalogue_type(type_name: str) -> bool:
    """Test-only types registered by unit tests are not part of the catalogue."""
    return type_name.startswith("centinela.")


def _value(name: str, annotation: Any) -> Any:
    """A plausible, pseudonymous value for a field: never anything that looks like personal data."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _value(name, args[0])
    if origin is Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return _value(name, inner[0]) if inner else None
    if origin in (list, tuple, set, frozenset):
        return [_value(name, args[0] if args else str)]
    if origin is dict:
        return {"sample_key": "sample-value"}
    if annotation is Any:
        return f"sample-{name}"
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, int):
            return 1
        if issubclass(annotation, float):
            return 1.5
        if issubclass(annotation, datetime):
            return SAMPLE_TIME
        if issubclass(annotation, date):
            return SAMPLE_DATE
        if issubclass(annotation, BaseModel):
            return build_data(annotation)
    return f"sample-{name.replace('_', '-')}"


def build_data(cls: type[BaseModel]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        data[name] = SAMPLE_CASE_ID if name == "case_id" else _value(name, field.annotation)
    return data


def build_payload(cls: type[EventPayload]) -> EventPayload:
    """A payload with every field set (optional ones too, so samples exercise them)."""
    return cls.model_validate(build_data(cls))


def sample_json(cls: type[EventPayload]) -> str:
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:centinela:sample:{cls.TYPE}:v{cls.VERSION}"))
    envelope = new_event(build_payload(cls), event_id=event_id, time=SAMPLE_TIME)
    return json.dumps(envelope.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def missing() -> list[tuple[str, type[EventPayload]]]:
    return [
        (name, cls)
        for name, cls in sorted(registered_types().items())
        if is_catalogue_type(name) and not sample_path(name, cls.VERSION).exists()
    ]


def main() -> int:
    written = 0
    for name, cls in missing():
        path = sample_path(name, cls.VERSION)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sample_json(cls))
        print(f"wrote {path.relative_to(SAMPLES.parent.parent)}")
        written += 1
    total = sum(1 for name in registered_types() if is_catalogue_type(name))
    print(f"samples: {written} written, {total - written} already present")
    return 0


if __name__ == "__main__":
    sys.exit(main())
