"""HTCDS 2.0 value lists with the earlier words still accepted (issue 13 item 15)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from services.intake.api.schemas import CaseCreate, CasePatch
from services.intake.domain import htcds, model

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Presumed", "PossibleVictimOfTrafficking"),
        ("Identified", "ActualVictimOfTrafficking"),
        ("Confirmed", "ActualVictimOfTrafficking"),
        ("NotAVictimOfTrafficking", "NotAVictimOfTrafficking"),
    ],
)
def test_trafficking_status(old: str, new: str) -> None:
    assert CaseCreate(trafficking_status=old).trafficking_status == new  # type: ignore[arg-type]
    assert CasePatch(trafficking_status=old).trafficking_status == new  # type: ignore[arg-type]


def test_methods_of_control_map_and_merge() -> None:
    body = CaseCreate(
        methods_of_control=["Isolation", "ThreatsToFamily", "RestrictedMovement", "UsesChildren", "Threats"]  # type: ignore[list-item]
    )
    assert body.methods_of_control == ["RestrictsMovement", "Threats", "UsesChildren"]
    with pytest.raises(ValidationError):
        CaseCreate(methods_of_control=["Threats", "Threats"])
    with pytest.raises(ValidationError):
        CaseCreate(trafficking_status="Bogus")  # type: ignore[arg-type]
    assert set(htcds.LEGACY_METHODS_OF_CONTROL.values()) <= set(htcds.METHODS_OF_CONTROL)


def test_stored_cases_with_earlier_words_read_as_htcds() -> None:
    case = model.Case.model_validate(
        {
            "case_id": "cs_1",
            "org_id": "o",
            "registered_at": NOW,
            "registered_by": "u",
            "updated_at": NOW,
            "trafficking_status": "Identified",
            "methods_of_control": ["WithheldDocuments", "SubstanceDependence", "WithheldEarnings"],
        }
    )
    assert case.trafficking_status == "ActualVictimOfTrafficking"
    assert case.methods_of_control == ["WithholdsDocuments", "PsychoactiveSubstances", "TakesEarnings"]
