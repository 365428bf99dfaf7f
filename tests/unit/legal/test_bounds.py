"""Dates out of the sane range are validation errors naming the field, at every entrance (issue 10)."""

from __future__ import annotations

import json

import pytest

from services.legal.adapters.consumers import RejectedUpdate, decode_court_update
from services.legal.domain.updates import InvalidUpdate, parse_update

BASE = {"source_system": "sgf", "update_id": "u1", "case_id": "c-1"}
OUT = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1899-12-31T23:59:59Z", "2200-01-01T00:00:00Z"]


@pytest.mark.parametrize("value", OUT)
@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("occurred_at", {"kind": "appeal_filed"}),
        ("scheduled_for", {"kind": "hearing_scheduled", "hearing_id": "h1", "occurred_at": "2025-01-01T00:00:00Z"}),
        (
            "new_date",
            {"kind": "hearing_postponed", "hearing_id": "h1", "reason": "x", "occurred_at": "2025-01-01T00:00:00Z"},
        ),
    ],
)
def test_out_of_range(field, body, value):
    with pytest.raises(InvalidUpdate) as err:
        parse_update({**BASE, **body, field: value})
    assert err.value.errors[0]["field"] == field and err.value.errors[0]["type"] == "date_out_of_range"
    assert err.value.reason.startswith(f"{field}: must be on or after 1900-01-01")


def test_in_range_edges_and_utc():
    u = parse_update({**BASE, "kind": "appeal_filed", "occurred_at": "1900-01-01T05:00:00+05:00"})
    assert u.occurred_at.isoformat() == "1900-01-01T00:00:00+00:00"


def test_the_kafka_decoder_turns_the_poison_into_a_typed_rejection():
    value = json.dumps({**BASE, "kind": "appeal_filed", "occurred_at": "9999-12-31T23:59:59-14:00"}).encode()
    record = type("R", (), {"value": value})()
    with pytest.raises(RejectedUpdate) as err:
        decode_court_update(record)  # type: ignore[arg-type]
    assert err.value.code == "invalid" and err.value.reason.startswith("occurred_at:")
