"""The event contract: encode/decode round trips, value-free decode errors, upcasting."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.events import DecodeError, EventPayload, decode, encode, new_event
from shared.events import envelope as envelope_module
from shared.events.case import CaseRegistered
from shared.events.envelope import event_type, key_for, registered_types, upcaster
from tests.samples.generate import build_payload, is_catalogue_type

SENTINEL = "Maria-Quispe-SENTINEL-7f3a"  # stands for personal data that must never reach a reason

CATALOGUE = sorted((n, c) for n, c in registered_types().items() if is_catalogue_type(n))


def test_catalogue_is_not_empty() -> None:
    names = {n for n, _ in CATALOGUE}
    assert {"centinela.case.registered", "centinela.legal.stage_changed", "centinela.alert.raised"} <= names


@pytest.mark.parametrize(("type_name", "cls"), CATALOGUE, ids=[n for n, _ in CATALOGUE])
def test_round_trip_every_registered_type(type_name: str, cls: type[EventPayload]) -> None:
    payload = build_payload(cls)
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    envelope = new_event(payload, event_id="ev-1", time=when)
    assert envelope.type == type_name
    assert envelope.subject == payload.case_id
    assert envelope.dataschemaversion == cls.VERSION
    assert envelope.source == cls.SOURCE and envelope.source.startswith("/centinela/")
    assert envelope.time == when and envelope.time.utcoffset() == timedelta(0)

    raw = encode(envelope)
    doc = json.loads(raw)
    assert doc["specversion"] == "1.0" and doc["datacontenttype"] == "application/json"
    event = decode(raw)
    assert type(event.payload) is cls
    assert event.payload == payload
    assert (event.id, event.type, event.case_id, event.time) == ("ev-1", type_name, payload.case_id, when)
    # str and already-parsed dicts go through the same codec
    assert decode(raw.decode()).payload == payload
    assert decode(doc).payload == payload


def test_encode_payload_directly_wraps_it_in_a_new_envelope() -> None:
    payload = build_payload(CaseRegistered)
    first, second = decode(encode(payload)), decode(encode(payload))
    assert first.payload == second.payload == payload
    assert first.id != second.id  # a fresh event id each time


def test_key_for_is_raw_utf8_case_id() -> None:
    assert key_for("case-ñ-1") == "case-ñ-1".encode()
    assert key_for("abc") == b"abc"


def _valid_doc() -> dict[str, Any]:
    return json.loads(encode(new_event(build_payload(CaseRegistered))))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (f"{{not json {SENTINEL}".encode(), "not JSON"),
        (b"\xff\xfe" + SENTINEL.encode(), "not JSON"),
        (json.dumps([SENTINEL]).encode(), "not a JSON object"),
        (json.dumps({"hello": SENTINEL}).encode(), "invalid envelope"),
    ],
    ids=["garbage", "not-utf8", "array", "wrong-envelope"],
)
def test_decode_errors_are_clear_and_value_free(raw: bytes, expected: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode(raw)
    assert expected in info.value.reason
    assert SENTINEL not in info.value.reason
    assert isinstance(info.value, ValueError)  # consumer loops route ValueError to the DLQ


def test_invalid_envelope_names_the_fields() -> None:
    doc = _valid_doc()
    del doc["id"]
    doc["time"] = SENTINEL
    with pytest.raises(DecodeError) as info:
        decode(doc)
    assert "id" in info.value.reason and "time" in info.value.reason
    assert SENTINEL not in info.value.reason


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("type", "centinela.nothing.happened", "unknown event type 'centinela.nothing.happened'"),
        ("dataschemaversion", CaseRegistered.VERSION + 1, "newer than supported"),  # a newer version is refused
        ("subject", "another-case", "subject does not match"),  # the subject must be the case id
    ],
)
def test_envelope_fields_that_cannot_be_decoded(field: str, value: Any, reason: str) -> None:
    doc = _valid_doc()
    doc[field] = value
    with pytest.raises(DecodeError, match=reason):
        decode(doc)


def test_invalid_data_names_the_field_not_the_value() -> None:
    doc = _valid_doc()
    doc["data"]["status"] = SENTINEL
    doc["data"]["registered_at"] = SENTINEL
    with pytest.raises(DecodeError) as info:
        decode(doc)
    reason = info.value.reason
    assert "centinela.case.registered" in reason and "status" in reason and "registered_at" in reason
    assert SENTINEL not in reason


def test_unknown_data_fields_are_ignored_for_forward_compatibility() -> None:
    doc = _valid_doc()
    doc["data"]["added_by_a_newer_producer"] = 1
    assert decode(doc).payload == CaseRegistered.model_validate(doc["data"])


def test_unregistered_payload_cannot_become_an_event() -> None:
    class Loose(EventPayload):
        pass

    with pytest.raises(RuntimeError, match="not a registered event type"):
        new_event(Loose(case_id="c1"))


# ---------------------------------------------------------------- upcasting

TEST_TYPE = "test.widget.renamed"


@pytest.fixture
def widget_v2() -> Iterator[type[EventPayload]]:
    """A test-only type at version 2 with an upcaster from version 1; removed afterwards."""

    @event_type(TEST_TYPE, 2, "/centinela/test")
    class WidgetRenamed(EventPayload):
        label: str
        renamed_at: datetime
        reason: str = "unspecified"

    @upcaster(TEST_TYPE, 1)
    def upcast_v1_v2(data: dict[str, Any]) -> dict[str, Any]:
        data = dict(data)
        data["label"] = data.pop("name")
        data["renamed_at"] = data.pop("when")
        return data

    try:
        yield WidgetRenamed
    finally:
        envelope_module._TYPES.pop(TEST_TYPE, None)
        envelope_module._UPCASTERS.pop((TEST_TYPE, 1), None)


def _v1_doc(version: int = 1) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "ev-old",
        "source": "/centinela/test",
        "type": TEST_TYPE,
        "subject": "case-9",
        "time": "2024-05-01T10:00:00Z",
        "datacontenttype": "application/json",
        "dataschemaversion": version,
        "data": {"case_id": "case-9", "name": "blue", "when": "2024-05-01T09:00:00Z"},
    }


def test_upcaster_lifts_v1_to_current(widget_v2: type[EventPayload]) -> None:
    event = decode(json.dumps(_v1_doc()).encode())
    assert type(event.payload) is widget_v2
    assert event.payload.model_dump() == {
        "case_id": "case-9",
        "label": "blue",
        "renamed_at": datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
        "reason": "unspecified",
    }
    # the decoded envelope is the current version: re-encoding it is a v2 event that decodes alike
    assert event.envelope.dataschemaversion == 2
    assert event.envelope.data["label"] == "blue" and "name" not in event.envelope.data
    again = decode(encode(event.envelope))
    assert again.payload == event.payload and again.envelope.dataschemaversion == 2


def test_current_version_needs_no_upcaster(widget_v2: type[EventPayload]) -> None:
    doc = _v1_doc(version=2)
    doc["data"] = {"case_id": "case-9", "label": "red", "renamed_at": "2024-05-01T09:00:00Z"}
    assert decode(doc).payload.model_dump()["label"] == "red"


def test_missing_upcaster_is_a_clear_error(widget_v2: type[EventPayload]) -> None:
    envelope_module._UPCASTERS.pop((TEST_TYPE, 1))
    with pytest.raises(DecodeError, match=f"no upcaster for {TEST_TYPE} v1"):
        decode(_v1_doc())


def test_registering_a_type_name_twice_is_refused(widget_v2: type[EventPayload]) -> None:
    with pytest.raises(RuntimeError, match="registered twice"):

        @event_type(TEST_TYPE, 3)
        class Other(EventPayload):
            pass
