"""The matching rule between person-recorded entries and integrator updates (issue 12 item 1)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.legal.domain.reconcile import find_match, same_fact
from services.legal.domain.timeline import Recorded
from services.legal.domain.updates import parse_update

LIMA = ZoneInfo("America/Lima")
PERSON = {"type": "person", "sub": "adv-1", "role": "legal_advocate"}


def u(kind: str, occurred_at: str, n: int = 1, source: str = "sgf", case_id: str = "c-1", **fields):
    return parse_update(
        {
            "source_system": source,
            "update_id": f"u{n}",
            "case_id": case_id,
            "kind": kind,
            "occurred_at": occurred_at,
            **fields,
        }
    )


def test_date_boundary_in_lima_not_utc():
    person = u("appeal_filed", "2025-03-02T23:30:00-05:00", source="centinela-web")  # 04:30Z on 3 March
    assert same_fact(person, u("appeal_filed", "2025-03-03T04:59:00Z", n=2), LIMA)  # 23:59 on 2 March, Lima
    assert not same_fact(person, u("appeal_filed", "2025-03-03T05:00:00Z", n=2), LIMA)  # 00:00 on 3 March, Lima


def test_identity_fields():
    at = "2025-03-02T10:00:00-05:00"
    stage = u("stage_changed", at, stage="preliminary_investigation")
    assert not same_fact(stage, u("stage_changed", at, n=2, stage="intermediate_stage"), LIMA)
    assert not same_fact(stage, u("appeal_filed", at, n=2), LIMA)
    assert not same_fact(stage, u("stage_changed", at, n=2, case_id="c-2", stage="preliminary_investigation"), LIMA)
    h1 = u("hearing_scheduled", at, hearing_id="mine", scheduled_for="2025-04-10T09:00:00-05:00")
    assert same_fact(
        h1, u("hearing_scheduled", at, n=2, hearing_id="theirs", scheduled_for="2025-04-10T14:00:30Z"), LIMA
    )
    assert not same_fact(
        h1, u("hearing_scheduled", at, n=2, hearing_id="x", scheduled_for="2025-04-10T15:00:00Z"), LIMA
    )
    notified = u("victim_notified", at, about="hearing")
    assert not same_fact(notified, u("victim_notified", at, n=2, about="verdict"), LIMA)
    archived = u("case_archived", at, reason="insufficient_evidence")
    assert same_fact(archived, u("case_archived", at, n=2, reason="other_code"), LIMA)  # reasons are source codes
    paid = u("reparation_paid", at, amount=100)
    assert same_fact(paid, u("reparation_paid", at, n=2), LIMA)  # compared only when both carry it
    assert not same_fact(paid, u("reparation_paid", at, n=2, amount=200), LIMA)


def test_each_person_entry_is_confirmed_once_and_only_across_provenances():
    now = datetime(2025, 3, 5, tzinfo=UTC)
    person = Recorded(u("appeal_filed", "2025-03-02T10:00:00-05:00", source="centinela-web"), now, recorded_by=PERSON)
    system = Recorded(u("appeal_filed", "2025-03-02T15:00:00-05:00", n=2), now)
    assert find_match([person], system, "America/Lima") is person
    confirmed = Recorded(system.update, now, reconciles=person.key)
    later = Recorded(u("appeal_filed", "2025-03-02T16:00:00-05:00", n=3), now)
    assert find_match([person, confirmed], later, "America/Lima") is None  # already confirmed: a new fact
    assert find_match([system], Recorded(later.update, now), "America/Lima") is None  # system vs system: never
    other_person = Recorded(
        u("appeal_filed", "2025-03-02T11:00:00-05:00", n=4, source="centinela-web"), now, recorded_by=PERSON
    )
    assert find_match([person], other_person, "America/Lima") is None  # person vs person: never
    assert find_match([system], other_person, "America/Lima") is system
