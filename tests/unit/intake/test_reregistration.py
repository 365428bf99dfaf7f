"""model.earlier_case_notices: one fact per earlier case; the new case named within one organisation only."""

from __future__ import annotations

from datetime import UTC, datetime

from services.intake.domain import model
from services.intake.domain.model import Case
from shared.events import decode, encode, new_event
from shared.events.case import CasePersonReregistered

NOW = datetime(2025, 3, 1, tzinfo=UTC)


def new_case(person_ref: str | None = "pr_1") -> Case:
    return Case(
        case_id="cs_new", org_id="org-1", person_ref=person_ref, registered_at=NOW, registered_by="u", updated_at=NOW
    )


def test_one_notice_per_earlier_case() -> None:
    out = model.earlier_case_notices(new_case(), {"cs_same": "org-1", "cs_other": "org-2"}, NOW)
    assert sorted(out) == ["cs_other", "cs_same"]
    same, other = out["cs_same"][0], out["cs_other"][0]
    assert isinstance(same, CasePersonReregistered) and isinstance(other, CasePersonReregistered)
    assert (same.case_id, same.new_case_id, same.org_id, same.new_case_org_id) == (
        "cs_same",
        "cs_new",
        "org-1",
        "org-1",
    )
    assert (other.case_id, other.new_case_id, other.org_id, other.new_case_org_id) == (
        "cs_other",
        None,
        "org-2",
        "org-1",
    )
    assert same.person_ref == other.person_ref == "pr_1" and same.detected_at == NOW


def test_keyed_by_the_earlier_case_and_round_trips() -> None:
    event = model.earlier_case_notices(new_case(), {"cs_other": "org-2"}, NOW)["cs_other"][0]
    envelope = new_event(event)
    assert envelope.subject == "cs_other" and envelope.type == "centinela.case.person_reregistered"
    assert decode(encode(envelope)).payload == event


def test_nothing_without_a_person_ref() -> None:
    assert model.earlier_case_notices(new_case(None), {"cs_x": "org-1"}, NOW) == {}
