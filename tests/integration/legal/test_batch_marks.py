"""Issue 18 item 1 (legal side), through the real API and broker: a batch's facts carry batch_id and batch_last."""

from __future__ import annotations

import pytest

from tests.integration.legal.conftest import new_id, post, update
from tests.integration.legal.test_rest import legal_events

pytestmark = pytest.mark.integration


def test_a_back_dated_batch_marks_the_last_fact_of_each_case(legal, tokens, stack_env):
    first, second = new_id("c"), new_id("c")
    body = {
        "updates": [
            update(first, "stage_changed", "2024-01-02T09:00:00-05:00", stage="preliminary_investigation"),
            update(second, "stage_changed", "2024-01-02T09:00:00-05:00", stage="preliminary_investigation"),
            update(first, "stage_changed", "2024-02-10T09:00:00-05:00", stage="preparatory_investigation"),
            update(first, "hearing_held", "2024-03-10T09:00:00-05:00", hearing_id="h-old"),
        ]
    }
    assert post(legal, tokens.integrator(), body).json()["accepted"] == 4
    events = legal_events(stack_env, first, lambda evs: len(evs) >= 3)
    marks = [(e.type.rsplit(".", 1)[1], e.payload.batch_id, e.payload.batch_last) for e in events]
    batch_ids = {m[1] for m in marks}
    assert len(batch_ids) == 1 and None not in batch_ids
    assert [(kind, last) for kind, _, last in marks] == [
        ("stage_changed", False),
        ("stage_changed", False),
        ("hearing_held", True),  # the case's last update of the batch: evaluate it now
    ]
    (only,) = legal_events(stack_env, second, lambda evs: len(evs) >= 1)
    assert only.payload.batch_id in batch_ids and only.payload.batch_last is True
    # one update alone is no batch
    single = new_id("c")
    post(
        legal,
        tokens.integrator(),
        update(single, "stage_changed", "2024-01-02T09:00:00-05:00", stage="complaint_filed"),
    )
    (alone,) = legal_events(stack_env, single, lambda evs: len(evs) >= 1)
    assert alone.payload.batch_id is None and alone.payload.batch_last is None
