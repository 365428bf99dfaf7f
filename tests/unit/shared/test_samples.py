"""Committed sample events (DESIGN.md convention 1) must keep decoding.

A payload change that breaks an old sample must bump the version and add an upcaster; a new
type needs a sample: ``python -m tests.samples.generate`` writes the missing ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.events import decode, registered_types
from tests.samples.generate import SAMPLES, is_catalogue_type, sample_path

CATALOGUE = sorted((n, c) for n, c in registered_types().items() if is_catalogue_type(n))
SAMPLE_FILES = sorted(SAMPLES.glob("*/v*.json"))


def test_every_registered_type_has_a_sample_of_its_current_version() -> None:
    missing = [f"{name} v{cls.VERSION}" for name, cls in CATALOGUE if not sample_path(name, cls.VERSION).exists()]
    assert not missing, f"no sample for {missing}: run `python -m tests.samples.generate` and commit the files"


def test_samples_exist() -> None:
    assert len(SAMPLE_FILES) >= len(CATALOGUE) > 0


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[f"{p.parent.name}/{p.stem}" for p in SAMPLE_FILES])
def test_sample_still_decodes_to_its_typed_payload(path: Path) -> None:
    doc = json.loads(path.read_text())
    type_name, version = path.parent.name, int(path.stem.removeprefix("v"))
    assert doc["type"] == type_name and doc["dataschemaversion"] == version, "sample stored under the wrong path"
    types = registered_types()
    assert type_name in types, f"{type_name} has a sample but is no longer registered (removing a type is breaking)"
    cls = types[type_name]

    event = decode(path.read_bytes())

    assert type(event.payload) is cls
    assert event.envelope.dataschemaversion == cls.VERSION
    assert event.case_id == doc["subject"] == event.payload.case_id
    if version == cls.VERSION:
        # Same version: every field the sample carries must still exist with the same value;
        # a dropped or renamed field is a breaking change (bump the version, add an upcaster).
        dumped = event.payload.model_dump(mode="json")
        gone = sorted(set(doc["data"]) - set(dumped))
        assert not gone, f"{type_name} v{version} lost fields {gone} without a version bump"
        changed = sorted(k for k in doc["data"] if _normal(dumped[k]) != _normal(doc["data"][k]))
        assert not changed, f"{type_name} v{version} reads fields {changed} differently"


def _normal(value: object) -> object:
    """JSON datetimes may be written with 'Z' or '+00:00'."""
    return value.replace("+00:00", "Z") if isinstance(value, str) else value
