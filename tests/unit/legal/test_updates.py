from datetime import UTC, datetime

import pytest

from services.legal.domain.updates import KINDS, InvalidUpdate, dump_update, parse_update, schema_examples

BASE = {"source_system": "sgf", "update_id": "u-1", "case_id": "c-1", "occurred_at": "2025-03-01T10:00:00-05:00"}


def test_every_kind_has_an_example_that_parses_and_round_trips():
    examples = schema_examples()
    assert sorted(examples) == sorted(KINDS)
    for kind, example in examples.items():
        update = parse_update(example)
        assert update.kind == kind
        assert parse_update(dump_update(update)) == update


def test_occurred_at_is_normalised_to_utc_milliseconds():
    update = parse_update({**BASE, "kind": "appeal_filed", "occurred_at": "2025-03-01T10:00:00.123456-05:00"})
    assert update.occurred_at == datetime(2025, 3, 1, 15, 0, 0, 123000, tzinfo=UTC)
    assert update.key == "sgf|u-1"


@pytest.mark.parametrize(
    ("item", "fragment"),
    [
        ({**BASE}, "kind: missing"),
        ({**BASE, "kind": "hearing_cancelled"}, "kind: must be one of"),
        ({**BASE, "kind": "hearing_held"}, "hearing_id: missing"),
        ({**BASE, "kind": "stage_changed", "stage": "archived"}, "stage: must be one of"),
        ({**BASE, "kind": "stage_changed", "stage": "trial", "complexity": "huge"}, "complexity: must be one of"),
        ({**BASE, "kind": "verdict_issued", "outcome": "maybe"}, "outcome: must be one of"),
        ({**BASE, "kind": "case_archived"}, "reason: missing"),
        ({**BASE, "kind": "case_archived", "reason": "Juan Perez lied"}, "reason: must be a snake_case code"),
        ({**BASE, "kind": "reparation_paid", "amount": -5}, "amount:"),
        ({**BASE, "kind": "reparation_paid", "currency": "soles"}, "currency: must be an ISO 4217"),
        ({**BASE, "kind": "appeal_filed", "occurred_at": "2025-03-01T10:00:00"}, "occurred_at: needs a timezone"),
        ({**BASE, "kind": "appeal_filed", "occurred_at": "yesterday"}, "occurred_at:"),
        ({**BASE, "kind": "appeal_filed", "case_id": "Maria Quispe"}, "case_id: must be an identifier"),
        ({**BASE, "kind": "appeal_filed", "victim_name": "Maria"}, "victim_name: unknown field"),
        ({**BASE, "kind": "hearing_scheduled", "hearing_id": "h1"}, "scheduled_for: missing"),
    ],
)
def test_rejections_name_the_field_never_the_value(item, fragment):
    with pytest.raises(InvalidUpdate) as err:
        parse_update(item)
    reason = err.value.reason
    assert fragment in reason
    for secret in ("Maria", "Juan", "Perez", "soles", "yesterday", "huge", "maybe", "hearing_cancelled"):
        assert secret not in reason


def test_not_an_object():
    with pytest.raises(InvalidUpdate, match="JSON object"):
        parse_update(["not", "an", "object"])


def test_optional_fields_default():
    notified = parse_update({**BASE, "kind": "victim_notified"})
    assert notified.kind == "victim_notified" and notified.about == "general"
    reopened = parse_update({**BASE, "kind": "case_reopened"})
    assert reopened.kind == "case_reopened" and reopened.stage is None and reopened.reason is None
