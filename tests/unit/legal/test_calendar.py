"""Issue 12 item 6: the agenda of a case and the iCalendar text (unit: no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.legal.api import ical
from services.legal.domain.deadlines import load_policy
from services.legal.domain.timeline import Recorded, replay
from services.legal.domain.updates import parse_update
from services.legal.service import AgendaItem
from services.legal.settings import DEFAULT_DEADLINES_FILE
from services.legal.store.timelines import agenda
from tests.unit.legal.icsparse import parse

POLICY = load_policy(DEFAULT_DEADLINES_FILE)
NOW = datetime(2025, 7, 20, 15, 0, tzinfo=UTC)


def rec(n: int, kind: str, at: str, **fields: object) -> Recorded:
    body = {"source_system": "s", "update_id": f"a{n}", "case_id": "c-cal", "kind": kind, "occurred_at": at}
    return Recorded(update=parse_update(body | fields), received_at=NOW + timedelta(milliseconds=n))


def test_the_agenda_holds_pending_hearings_the_stage_deadline_and_open_deadlines():
    state = replay(
        [
            rec(1, "stage_changed", "2025-07-01T10:00:00-05:00", stage="trial", imported=True),
            rec(
                2,
                "hearing_scheduled",
                "2025-07-02T10:00:00-05:00",
                hearing_id="h-1",
                scheduled_for="2025-08-01T09:00:00-05:00",
            ),
            rec(
                3,
                "hearing_scheduled",
                "2025-07-02T10:00:00-05:00",
                hearing_id="h-2",
                scheduled_for="2025-07-10T09:00:00-05:00",
            ),
            rec(4, "hearing_held", "2025-07-10T12:00:00-05:00", hearing_id="h-2"),
            rec(5, "trial_suspended", "2025-07-14T12:00:00-05:00", reason="judge_ill"),
        ],
        POLICY,
    )
    items = {(i["kind"], i.get("ref")) for i in agenda(state)}
    assert ("hearing", "h-1") in items and ("hearing", "h-2") not in items  # held: off the calendar
    assert any(kind == "trial_resumption" for kind, _ in items)
    assert all("article" not in i or i["article"] is None or i["article"].startswith("CPP") for i in agenda(state))


def test_ical_is_valid_and_carries_case_code_and_kind_only():
    items = [
        AgendaItem("c-1", "hearing", datetime(2025, 8, 1, 14, 0, tzinfo=UTC), "h-1"),
        # a deadline ending at 00:00 Lima on 29 July: its last day is the 28th
        AgendaItem(
            "c-" + "x" * 60, "appeal_sentence", datetime(2025, 7, 29, 5, 0, tzinfo=UTC), "d-1", "CPP art. 414.1.c"
        ),
    ]
    text = ical.calendar(items, now=NOW)
    events = parse(text)
    assert len(events) == 2 and len({e["UID"] for e in events}) == 2
    hearing, deadline = events
    assert hearing["DTSTART"] == "20250801T140000Z" and hearing["SUMMARY"] == "c-1 · audiencia"
    assert deadline["DTSTART"] == "20250728" and deadline["DTEND"] == "20250729"
    assert deadline["SUMMARY"].startswith("c-xxxx") and "apelación" in deadline["SUMMARY"]
    assert set(hearing) <= {"UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "CATEGORIES", "TRANSP"}
    assert ical.calendar(items, now=NOW) == text  # stable UIDs: a refresh updates, never duplicates


def test_folding_never_splits_a_utf8_character():
    line = "SUMMARY:" + "ñ" * 80
    folded = ical.fold(line)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert folded.replace("\r\n ", "") == line
    assert ical.escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne"
