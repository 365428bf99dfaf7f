"""Issue 12 item 3: a deadline for every stage and act that has one in law, counted as the law counts.

Each deadline is checked at, just before and just after its threshold; dates are Lima dates
(the shipped holiday files: Holy Thursday and Good Friday 2025 are 17 and 18 April).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.legal.api.schemas import Timeline
from services.legal.domain.calendar import LegalCalendar
from services.legal.domain.deadlines import DeadlineConfigError, DeadlinePolicy, load_policy
from services.legal.domain.timeline import (
    IllegalUpdate,
    Recorded,
    TrackedDeadline,
    envelopes,
    facts_for,
    integrate,
    replay,
)
from services.legal.settings import DEFAULT_DEADLINES_FILE, DEFAULT_HOLIDAYS_DIR
from shared.durations import parse_calendar_duration
from shared.events import decode, encode
from shared.events import legal as ev
from tests.unit.legal.lima import LIMA, eod
from tests.unit.legal.records import build_with, recorded

POLICY: DeadlinePolicy = load_policy(DEFAULT_DEADLINES_FILE, holidays_dir=DEFAULT_HOLIDAYS_DIR)
SECOND = timedelta(seconds=1)


def lima(day: str, hour: int = 10) -> datetime:
    """An instant on a Lima date (the advocate's and the court's clock)."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=LIMA).astimezone(UTC)


def rec(kind: str, at: datetime, **fields: object) -> Recorded:
    return recorded(kind, at, case_id="c-law", prefix="d", **fields)


def build(*records: Recorded) -> list[Recorded]:
    return build_with(POLICY, *records)


def only(history: list[Recorded], kind: str) -> TrackedDeadline:
    found = [d for d in replay(history, POLICY).deadlines.values() if d.kind == kind]
    assert len(found) == 1, found
    return found[0]


# -- counting days --------------------------------------------------------------------------------
def test_working_days_skip_weekends_and_judicial_holidays():
    cal = POLICY.calendar
    # Wednesday 16 April 2025 + 3 working days: Holy Thursday, Good Friday and the weekend do not count
    assert cal.add_days(date(2025, 4, 16), 3, "working") == date(2025, 4, 23)
    assert cal.add_days(date(2025, 4, 16), 3, "calendar") == date(2025, 4, 19)
    # Friday 25 July + 2 working days: Monday 28 and Tuesday 29 (Fiestas Patrias) are holidays
    assert cal.add_days(date(2025, 7, 25), 2, "working") == date(2025, 7, 31)
    assert cal.is_working_day(date(2025, 8, 4)) is False  # Día del Juez (judicial)
    assert cal.is_working_day(date(2025, 2, 10)) is True  # judicial vacation does not stop terms by default


def test_days_are_lima_dates_and_a_term_ends_with_its_last_day():
    cal = POLICY.calendar
    late_evening = lima("2025-03-03", 21)  # 02:00 on 4 March in UTC
    five = parse_calendar_duration("5d", where="t")
    assert cal.due(late_evening, five, "calendar") == eod(date(2025, 3, 8))  # counted from 3 March, not 4
    assert cal.due(late_evening, five, "calendar") == datetime(2025, 3, 9, 5, 0, tzinfo=UTC)
    assert cal.due(late_evening, parse_calendar_duration("2h", where="t")) == late_evening + timedelta(hours=2)


def test_vacation_counts_only_when_configured(tmp_path: Path):
    (tmp_path / "2025.yaml").write_text(
        "year: 2025\nholidays: []\njudicial_vacation: {from: 2025-02-01, to: 2025-03-02}\n"
    )
    off = LegalCalendar.load(tmp_path, vacation_is_non_working=True)
    on = LegalCalendar.load(tmp_path)
    assert off.add_days(date(2025, 1, 31), 1, "working") == date(2025, 3, 3)
    assert on.add_days(date(2025, 1, 31), 1, "working") == date(2025, 2, 3)


def test_bad_calendar_and_deadline_files_name_the_key(tmp_path: Path):
    holidays = tmp_path / "h"
    holidays.mkdir()
    (holidays / "2025.yaml").write_text("year: 2024\nholidays: []\n")
    deadlines = tmp_path / "deadlines.yaml"
    deadlines.write_text("calendar: {holidays_dir: h}\nstages: {}\n")
    with pytest.raises(DeadlineConfigError, match=r"deadlines.yaml: calendar: 2025.yaml: 'year' must be 2025"):
        load_policy(deadlines)
    deadlines.write_text("stages: {}\ndeadlines:\n  appeal_sentence: {term: 1mo, counting: working}\n")
    with pytest.raises(DeadlineConfigError, match=r"deadlines.appeal_sentence.term: working days are counted"):
        load_policy(deadlines)
    deadlines.write_text("stages: {}\ndeadlines:\n  nap_time: {term: 5d}\n")
    with pytest.raises(DeadlineConfigError, match="unknown deadline 'nap_time'"):
        load_policy(deadlines)


def test_every_shipped_term_cites_its_article():
    for by_complexity in [*POLICY.terms.values(), *POLICY.others.values()]:
        for term in by_complexity.values():
            assert term.article and term.article.startswith("CPP art. ")
    assert POLICY.other_term("appeal_sentence").counting == "working"  # type: ignore[union-attr]


# -- intermediate stage: art. 344.1 ---------------------------------------------------------------
def intermediate(complexity: str | None = None) -> list[Recorded]:
    fields = {"complexity": complexity} if complexity else {}
    return build(
        rec("stage_changed", lima("2025-01-06"), stage="preparatory_investigation", imported=True, **fields),
        rec("stage_changed", lima("2025-05-02"), stage="intermediate_stage"),
    )


@pytest.mark.parametrize(("complexity", "last_day"), [(None, "2025-05-17"), ("complex", "2025-06-01")])
def test_intermediate_stage_pronouncement_term(complexity: str | None, last_day: str):
    history = intermediate(complexity)
    state = replay(history, POLICY)
    due = eod(date.fromisoformat(last_day))
    assert state.deadline is not None and state.deadline.deadline_at == due
    assert state.deadline.basis == "CPP art. 344.1"
    assert [Timeline.build("c", state, now=due + d).overdue for d in (-SECOND, timedelta(0), SECOND)] == [
        False,
        False,
        True,
    ]


def test_the_accusation_meets_the_term_and_opens_the_parties_window():
    history = intermediate()
    accusation = rec("accusation_filed", lima("2025-05-10"))
    result = integrate(history, accusation, POLICY)
    assert result.after.deadline is None and result.after.stage == "intermediate_stage"
    facts = facts_for(accusation.update, result)
    assert [type(f) for f in facts] == [ev.StageChanged, ev.AccusationFiled, ev.DeadlineSet]
    moved, _, window = facts
    assert isinstance(moved, ev.StageChanged) and moved.deadline_at is None  # the stage-overdue rule resolves
    assert isinstance(window, ev.DeadlineSet) and window.deadline_kind == "accusation_observations"
    assert window.due_at == eod(date(2025, 5, 20)) and window.nature == "window"
    with pytest.raises(IllegalUpdate, match="already pronounced"):
        integrate([*history, accusation], rec("dismissal_requested", lima("2025-05-11")), POLICY)
    with pytest.raises(IllegalUpdate, match=r"pronouncement of the intermediate stage \(CPP art. 344.1\)"):
        integrate(history[:1], rec("accusation_filed", lima("2025-02-01")), POLICY)


# -- trial suspensions: art. 360 -------------------------------------------------------------------
def trial() -> list[Recorded]:
    return build(rec("stage_changed", lima("2025-03-01"), stage="trial", imported=True))


def test_a_suspended_trial_must_resume_within_eight_working_days():
    history = build(*trial(), rec("trial_suspended", lima("2025-04-14"), reason="defendant_ill"))
    d = only(history, "trial_resumption")
    # Mon 14 April: 15, 16, (17, 18 holidays, 19-20 weekend), 21, 22, 23, 24, 25, 28 -> Monday 28 April
    assert d.due_at == eod(date(2025, 4, 28)) and d.article == "CPP art. 360.3" and d.nature == "duty"
    for at, status in ((d.due_at - SECOND, "met"), (d.due_at, "met")):
        resumed = integrate(history, rec("trial_resumed", at), POLICY).after
        assert resumed.deadlines[d.deadline_id].status == status
    late = integrate(history, rec("trial_resumed", d.due_at + SECOND), POLICY).after.deadlines[d.deadline_id]
    assert late.status == "met" and late.late is True
    assert (
        integrate(history, rec("trial_resumed", d.due_at - SECOND), POLICY).after.deadlines[d.deadline_id].late is False
    )
    with pytest.raises(IllegalUpdate, match="already suspended"):
        integrate(history, rec("trial_suspended", lima("2025-04-15"), reason="judge_ill"), POLICY)
    held = rec("hearing_held", lima("2025-04-16"), hearing_id="h-t")
    assert integrate(history, held, POLICY).after.deadlines[d.deadline_id].status == "met"
    with pytest.raises(IllegalUpdate, match="trial_suspended needs a trial"):
        integrate(intermediate(), rec("trial_suspended", lima("2025-05-03"), reason="x"), POLICY)


# -- appeal windows: art. 414 ----------------------------------------------------------------------
def test_a_sentence_opens_five_working_days_to_appeal():
    verdict = rec("verdict_issued", lima("2025-07-24"), outcome="acquittal")
    history = build(*trial(), verdict)
    d = only(history, "appeal_sentence")
    # Thu 24 July: 25, (26-27 weekend, 28-29 Fiestas Patrias), 30, 31, 1 Aug, 4 is Día del Juez -> Tue 5 Aug
    assert d.due_at == eod(date(2025, 8, 5)) and d.article == "CPP art. 414.1.c" and d.nature == "window"
    appeal = rec("appeal_filed", lima("2025-08-05", 23))
    after = integrate(history, appeal, POLICY).after
    assert after.stage == "appeal" and after.deadlines[d.deadline_id].status == "met"
    assert after.deadlines[d.deadline_id].late is False
    # the appeal court's sentence opens the cassation window
    second = rec("verdict_issued", lima("2025-10-01"), outcome="conviction")
    assert only(build(*history, appeal, second), "cassation").article == "CPP art. 414.1.a"


def test_an_order_opens_three_working_days_and_its_appeal_keeps_the_stage():
    order = rec("order_issued", lima("2025-04-16"), order="prision_preventiva")
    history = build(*intermediate(), order)
    d = only(history, "appeal_order")
    assert d.due_at == eod(date(2025, 4, 23))  # 21, 22, 23 April after Holy Week
    appeal = rec("appeal_filed", lima("2025-04-22"), against="order")
    after = integrate(history, appeal, POLICY).after
    assert after.stage == "intermediate_stage" and after.deadlines[d.deadline_id].status == "met"
    facts = facts_for(appeal.update, integrate(history, appeal, POLICY))
    assert isinstance(facts[0], ev.AppealFiled) and facts[0].against == "order"
    assert isinstance(facts[1], ev.DeadlineSet) and facts[1].status == "met"


# -- archive, provisional reserve, elevation: art. 334 ---------------------------------------------
def preliminary() -> list[Recorded]:
    return build(rec("stage_changed", lima("2025-01-06"), stage="preliminary_investigation"))


@pytest.mark.parametrize("kind", ["case_archived", "provisional_reserve"])
def test_archive_and_reserve_open_the_victims_five_days_to_ask_for_elevation(kind: str):
    fields = {"reason": "insufficient_evidence"} if kind == "case_archived" else {}
    archive = rec(kind, lima("2025-03-03"), **fields)
    history = build(*preliminary(), archive)
    state = replay(history, POLICY)
    assert state.stage == "archived"
    assert state.archives[-1]["disposition"] == ("archive" if kind == "case_archived" else "provisional_reserve")
    d = only(history, "archive_elevation")
    assert d.due_at == eod(date(2025, 3, 10)) and d.article == "CPP art. 334.5"  # Mon 3 -> Mon 10 March
    on_time = integrate(history, rec("elevation_requested", d.due_at - SECOND), POLICY).after
    assert on_time.deadlines[d.deadline_id].status == "met" and on_time.elevations[-1]["late"] is False
    late = integrate(history, rec("elevation_requested", d.due_at), POLICY).after
    assert late.elevations[-1]["late"] is True  # recorded as it happened, flagged as out of time
    decision = [x for x in on_time.deadlines.values() if x.kind == "elevation_decision"]
    assert len(decision) == 1 and decision[0].article == "CPP art. 334.6" and decision[0].nature == "duty"


@pytest.mark.parametrize(
    ("outcome", "stage"),
    [
        ("archive_upheld", "archived"),
        ("formalise", "preparatory_investigation"),
        ("continue_investigation", "preliminary_investigation"),
    ],
)
def test_the_superiors_decision_and_where_it_leaves_the_case(outcome: str, stage: str):
    archive = rec("case_archived", lima("2025-03-03"), reason="no_crime")
    request = rec("elevation_requested", lima("2025-03-05"))
    history = build(*preliminary(), archive, request)
    with pytest.raises(IllegalUpdate, match="already requested"):
        integrate(history, rec("elevation_requested", lima("2025-03-06")), POLICY)
    decided = rec("elevation_decided", lima("2025-03-10"), outcome=outcome)
    result = integrate(history, decided, POLICY)
    assert result.after.stage == stage
    assert all(d.status != "open" for d in result.after.deadlines.values() if d.kind == "elevation_decision")
    if stage != "archived":
        assert result.after.stage_history[-1]["basis"] == "fiscal superior, CPP art. 334.6"
        assert result.after.deadline is not None  # the new stage's term runs
    kinds = [type(f) for f in facts_for(decided.update, result)]
    assert ev.ElevationDecided in kinds and ev.DeadlineSet in kinds
    with pytest.raises(IllegalUpdate, match="needs an elevation requested"):
        integrate(build(*preliminary(), archive), rec("elevation_decided", lima("2025-03-10"), outcome=outcome), POLICY)


def test_a_final_case_cannot_be_archived_nor_reserved():
    final = build(*intermediate(), rec("stage_changed", lima("2025-05-10"), stage="final"))
    with pytest.raises(IllegalUpdate, match=r"a final case \(res judicata\) cannot be archived"):
        integrate(final, rec("case_archived", lima("2025-06-01"), reason="no_crime"), POLICY)
    with pytest.raises(IllegalUpdate, match=r"preliminary inquiries \(CPP art. 334.4\)"):
        integrate(final, rec("provisional_reserve", lima("2025-06-01")), POLICY)
    with pytest.raises(IllegalUpdate, match=r"preliminary inquiries \(CPP art. 334.4\)"):
        integrate(intermediate(), rec("provisional_reserve", lima("2025-06-01")), POLICY)


def test_reopening_cancels_the_elevation_window():
    archive = rec("case_archived", lima("2025-03-03"), reason="no_crime")
    history = build(*preliminary(), archive)
    reopened = integrate(history, rec("case_reopened", lima("2025-03-04"), reason="new_evidence"), POLICY).after
    assert [d.status for d in reopened.deadlines.values()] == ["cancelled"]


# -- principio de oportunidad: art. 2 --------------------------------------------------------------
def test_principio_de_oportunidad_abstains_before_and_dismisses_until_the_accusation():
    abstention = rec("principio_de_oportunidad", lima("2025-02-01"), legal_basis="CPP art. 2")
    result = integrate(preliminary(), abstention, POLICY)
    assert result.after.stage == "archived" and result.after.archives[-1]["disposition"] == "principio_de_oportunidad"
    facts = facts_for(abstention.update, result)
    assert [type(f) for f in facts] == [ev.StageChanged, ev.OpportunityApplied, ev.CaseArchived]
    assert isinstance(facts[1], ev.OpportunityApplied) and facts[1].outcome == "abstention"
    assert not result.after.deadlines  # no elevation window for an abstention agreed with the victim
    dismissal = integrate(intermediate(), rec("principio_de_oportunidad", lima("2025-05-05")), POLICY).after
    assert dismissal.stage == "final" and "CPP art. 2.7" in dismissal.stage_history[-1]["basis"]
    accused = build(*intermediate(), rec("accusation_filed", lima("2025-05-05")))
    with pytest.raises(IllegalUpdate, match=r"until the accusation is filed \(CPP art. 2.7\)"):
        integrate(accused, rec("principio_de_oportunidad", lima("2025-05-06")), POLICY)
    with pytest.raises(IllegalUpdate, match="CPP art. 2.7"):
        integrate(trial(), rec("principio_de_oportunidad", lima("2025-05-06")), POLICY)


# -- what the processor reads ----------------------------------------------------------------------
def test_deadline_set_events_round_trip_with_stable_ids():
    archive = rec("case_archived", lima("2025-03-03"), reason="no_crime")
    result = integrate(preliminary(), archive, POLICY)
    facts = facts_for(archive.update, result)
    window = next(f for f in facts if isinstance(f, ev.DeadlineSet))
    assert window.status == "open" and window.deadline_kind == "archive_elevation" and window.counting == "working"
    first, again = envelopes(facts), envelopes(facts_for(archive.update, result))
    assert [e.id for e in first] == [e.id for e in again] and len({e.id for e in first}) == len(first)
    decoded = decode(encode(first[-1])).payload
    assert isinstance(decoded, ev.DeadlineSet) and decoded.due_at == window.due_at


def test_the_timeline_shows_open_and_closed_deadlines():
    verdict = rec("verdict_issued", lima("2025-07-24"), outcome="conviction")
    state = replay(build(*trial(), rec("trial_suspended", lima("2025-07-01"), reason="x"), verdict), POLICY)
    view = Timeline.build("c-law", state)
    assert [(d.kind, d.status) for d in view.deadlines] == [("trial_resumption", "met"), ("appeal_sentence", "open")]
    assert view.trial_suspensions[0].resumed_at == verdict.update.occurred_at
