"""Reintegration outcomes (issue 13 item 13): coded statuses per domain, the current status by date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.intake.api.schemas import ReintegrationCreate
from services.intake.domain import model
from shared.events import decode, encode

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def case() -> model.Case:
    return model.Case(case_id="cs_1", org_id="org-a", registered_at=NOW, registered_by="u", updated_at=NOW)


def record(c: model.Case, domain: model.ReintegrationDomain, status: str, day: date, **kw: object) -> tuple:
    args = {"actor": "u", "role": "intake_officer", "now": NOW, "max_items": 10, **kw}
    return model.record_reintegration(c, domain=domain, status=status, effective_date=day, **args)  # type: ignore[arg-type]


def test_outcomes_are_facts_with_the_previous_status_by_effective_date() -> None:
    c, first, [e1] = record(case(), "education", "enrolled", date(2024, 3, 1))
    assert e1.model_dump()["previous_status"] is None and first.outcome_id.startswith("ro_")
    c, _, [e2] = record(c, "education", "dropped_out", date(2024, 9, 1), now=NOW + timedelta(seconds=1))
    assert e2.model_dump()["previous_status"] == "enrolled"
    # a late report of an earlier date does not become the current status
    c, _, [e3] = record(c, "education", "attending", date(2024, 5, 1), now=NOW + timedelta(seconds=2))
    assert e3.model_dump()["previous_status"] == "dropped_out"
    assert c.reintegration_status()["education"].status == "dropped_out"
    c, _, _ = record(c, "documentation", "dni_obtained", date(2024, 4, 1))
    assert set(c.reintegration_status()) == {"education", "documentation"}
    decoded = decode(encode(e2)).payload.model_dump(mode="json")
    assert decoded["domain"] == "education" and decoded["status"] == "dropped_out"
    assert decoded["effective_date"] == "2024-09-01" and decoded["org_id"] == "org-a"


def test_status_must_fit_the_domain_and_the_case_is_bounded() -> None:
    with pytest.raises(model.RuleViolation):
        record(case(), "placement", "enrolled", date(2024, 1, 1))
    c = case()
    for i in range(2):
        c, _, _ = record(c, "placement", "family", date(2024, 1, 1 + i), max_items=2)
    with pytest.raises(model.LimitExceeded):
        record(c, "placement", "foster", date(2024, 2, 1), max_items=2)


def test_api_body_names_the_rule() -> None:
    ReintegrationCreate(domain="placement", status="foster", effective_date=date(2024, 1, 1))
    with pytest.raises(ValidationError) as exc:
        ReintegrationCreate(domain="placement", status="enrolled", effective_date=date(2024, 1, 1))
    assert "family" in str(exc.value)
    with pytest.raises(ValidationError):
        ReintegrationCreate(domain="placement", status="family", effective_date=date.today() + timedelta(days=3))
