"""Issue 12 item 2: extensions, complexity declarations, special procedures and imported cases.

Every deadline is checked at, just before and just after it (overdue means strictly after).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.legal.api.schemas import Timeline
from services.legal.domain.deadlines import DeadlinePolicy, load_policy
from services.legal.domain.timeline import IllegalUpdate, Recorded, facts_for, integrate, replay
from services.legal.domain.updates import InvalidUpdate
from services.legal.settings import DEFAULT_DEADLINES_FILE
from shared.durations import add_months
from shared.events import legal as ev
from tests.unit.legal.lima import eod
from tests.unit.legal.records import build_with, recorded

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
POLICY: DeadlinePolicy = load_policy(DEFAULT_DEADLINES_FILE)
SECOND = timedelta(seconds=1)


def rec(kind: str, day: float, **fields: object) -> Recorded:
    return recorded(kind, T0 + timedelta(days=day), prefix="p", **fields)


def build(*records: Recorded) -> list[Recorded]:
    return build_with(POLICY, *records)


def overdue_around(records: list[Recorded], deadline: datetime) -> tuple[bool, bool, bool]:
    """(just before, at, just after) the deadline, as the timeline reports it."""
    state = replay(records, POLICY)
    assert state.deadline is not None and state.deadline.deadline_at == deadline
    return tuple(Timeline.build("c-1", state, now=deadline + d).overdue for d in (-SECOND, timedelta(0), SECOND))  # type: ignore[return-value]


def extension(day: float, **fields) -> Recorded:
    return rec("deadline_extended", day, granted_by="juez_investigacion", legal_basis="CPP art. 342.1", **fields)


PREPARATORY = (
    rec("stage_changed", 0, stage="preliminary_investigation"),
    rec("stage_changed", 10, stage="preparatory_investigation"),
)
START = T0 + timedelta(days=10)


def test_statutory_preparatory_deadline_at_before_after():
    history = build(*PREPARATORY)
    assert overdue_around(history, eod(START + timedelta(days=120))) == (False, False, True)
    assert replay(history, POLICY).deadline.basis == "CPP art. 342.1"  # type: ignore[union-attr]


def test_extension_by_days_moves_the_deadline():
    history = build(*PREPARATORY, extension(100, extra_days=60))
    new = eod(START + timedelta(days=180))
    assert overdue_around(history, new) == (False, False, True)
    state = replay(history, POLICY)
    assert (
        Timeline.build("c-1", state, now=eod(START + timedelta(days=120)) + SECOND).overdue is False
    )  # old one passed
    assert state.extensions[0]["granted_by"] == "juez_investigacion" and state.stage == "preparatory_investigation"


def test_extension_to_a_date_and_its_limit():
    until = START + timedelta(days=150)
    history = build(*PREPARATORY, extension(100, new_deadline=until.isoformat()))
    assert overdue_around(history, until) == (False, False, True)
    # up to the longest term the law allows (120 + 60 days), not a second beyond
    at_limit = extension(101, new_deadline=eod(START + timedelta(days=180)).isoformat())
    integrate(history, at_limit, POLICY)
    beyond = extension(101, new_deadline=(eod(START + timedelta(days=180)) + SECOND).isoformat())
    with pytest.raises(IllegalUpdate, match=r"beyond the longest term .*CPP art\. 342\.1: 120d \+ 60d extension"):
        integrate(history, beyond, POLICY)
    with pytest.raises(IllegalUpdate, match="beyond the longest term"):
        integrate(build(*PREPARATORY), extension(100, extra_days=61), POLICY)


def test_an_extension_must_extend_and_needs_an_open_stage():
    history = build(*PREPARATORY)
    earlier = extension(100, new_deadline=(START + timedelta(days=120)).isoformat())
    with pytest.raises(IllegalUpdate, match="must end after the deadline it extends"):
        integrate(history, earlier, POLICY)
    with pytest.raises(IllegalUpdate, match="needs an open stage"):
        integrate([], extension(1, extra_days=5), POLICY)
    archived = build(*PREPARATORY, rec("case_archived", 20, reason="insufficient_evidence"))
    with pytest.raises(IllegalUpdate, match="needs an open stage"):
        integrate(archived, extension(30, extra_days=5), POLICY)
    complaint = build(rec("stage_changed", 0, stage="complaint_filed"))
    with pytest.raises(IllegalUpdate, match="no deadline to extend"):
        integrate(complaint, extension(1, extra_days=5), POLICY)
    # a stage without a statutory term may still be given a date
    dated = build(rec("stage_changed", 0, stage="complaint_filed"), extension(1, new_deadline="2025-02-01T00:00:00Z"))
    assert replay(dated, POLICY).deadline.deadline_at == datetime(2025, 2, 1, tzinfo=UTC)  # type: ignore[union-attr]


def test_exactly_one_of_new_deadline_and_extra_days():
    for fields in ({}, {"extra_days": 5, "new_deadline": "2025-06-01T00:00:00Z"}):
        with pytest.raises(InvalidUpdate, match="exactly one of new_deadline and extra_days"):
            extension(1, **fields)
    with pytest.raises(InvalidUpdate, match="legal_basis: must be a citation"):
        rec("deadline_extended", 1, granted_by="juez", legal_basis="la jueza Rosa lo dijo", extra_days=3)


def test_the_extension_publishes_the_moved_deadline():
    history = build(*PREPARATORY)
    new = extension(100, extra_days=30)
    facts = facts_for(new.update, integrate(history, new, POLICY))
    assert [type(f) for f in facts] == [ev.StageChanged, ev.DeadlineExtended]
    moved, granted = facts
    assert isinstance(moved, ev.StageChanged) and isinstance(granted, ev.DeadlineExtended)
    assert moved.stage == moved.previous_stage == "preparatory_investigation"
    assert moved.deadline_at == eod(START + timedelta(days=150)) and moved.deadline_basis == "CPP art. 342.1"
    assert granted.deadline_at == eod(START + timedelta(days=150)) and granted.extra_days == 30


def test_a_new_stage_starts_without_the_old_extension():
    history = build(*PREPARATORY, extension(100, extra_days=60), rec("stage_changed", 130, stage="intermediate_stage"))
    state = replay(history, POLICY)
    # the intermediate stage's own term (art. 344.1: 15 days), not the preparatory extension
    assert state.stage_extensions == [] and state.deadline is not None
    assert state.deadline.deadline_at == eod(START + timedelta(days=135)) and state.deadline.basis == "CPP art. 344.1"


@pytest.mark.parametrize(
    ("stage", "complexity", "months"),
    [
        ("preliminary_investigation", "complex", 8),  # art. 334.2: no more falling back to 60 days
        ("preliminary_investigation", "organised_crime", 36),
        ("preparatory_investigation", "complex", 8),
        ("preparatory_investigation", "organised_crime", 36),
    ],
)
def test_complexity_declared_moves_the_deadline(stage, complexity, months):
    first = rec("stage_changed", 0, stage="preliminary_investigation")
    moves = [first] if stage == "preliminary_investigation" else [first, rec("stage_changed", 10, stage=stage)]
    started = moves[-1].update.occurred_at
    declared = rec("complexity_declared", 20, complexity=complexity, legal_basis="CPP art. 342.2")
    history = build(*moves, declared)
    assert overdue_around(history, eod(add_months(started, months))) == (False, False, True)
    state = replay(history, POLICY)
    assert state.complexity == complexity and state.complexity_declarations[0]["legal_basis"] == "CPP art. 342.2"
    facts = facts_for(declared.update, integrate(history[:-1], declared, POLICY))
    assert [type(f) for f in facts] == [ev.StageChanged, ev.ComplexityDeclared]


def test_complexity_declared_needs_a_change_and_an_open_stage():
    history = build(rec("stage_changed", 0, stage="preliminary_investigation"))
    with pytest.raises(IllegalUpdate, match="already ordinary"):
        integrate(history, rec("complexity_declared", 1, complexity="ordinary"), POLICY)
    with pytest.raises(IllegalUpdate, match="needs an open stage"):
        integrate([], rec("complexity_declared", 1, complexity="complex"), POLICY)


def test_proceso_inmediato_and_terminacion_anticipada_are_legal_with_their_articles():
    inmediato = build(
        rec("stage_changed", 0, stage="preliminary_investigation"), rec("stage_changed", 5, stage="trial")
    )
    assert replay(inmediato, POLICY).stage_history[-1]["basis"] == "proceso inmediato, CPP arts. 446-448"
    anticipada = build(*PREPARATORY, rec("verdict_issued", 40, outcome="conviction"))
    assert replay(anticipada, POLICY).stage == "verdict"
    direct = build(*PREPARATORY, rec("stage_changed", 40, stage="verdict"))
    assert replay(direct, POLICY).stage_history[-1]["basis"] == "terminación anticipada, CPP arts. 468-471"


def test_illegal_transitions_name_the_rule():
    history = build(rec("stage_changed", 0, stage="preliminary_investigation"))
    with pytest.raises(IllegalUpdate) as err:
        integrate(history, rec("stage_changed", 1, stage="verdict"), POLICY)
    assert "preliminary_investigation -> verdict under the CPP 2004 stage order" in err.value.reason
    assert "trial (proceso inmediato, CPP arts. 446-448)" in err.value.reason


def test_an_imported_case_starts_in_any_stage_once():
    imported = rec("stage_changed", 0, stage="trial", imported=True)
    history = build(imported)
    state = replay(history, POLICY)
    assert state.stage == "trial" and state.stage_history[0]["imported"] is True
    with pytest.raises(IllegalUpdate, match="imported: true"):
        integrate([], rec("stage_changed", 0, stage="trial"), POLICY)
    # after the first update, imported opens no shortcut
    with pytest.raises(IllegalUpdate, match="trial -> preliminary_investigation"):
        integrate(history, rec("stage_changed", 1, stage="preliminary_investigation", imported=True), POLICY)
    # an imported preparatory case gets its real deadline from its real start
    prep = build(rec("stage_changed", -200, stage="preparatory_investigation", imported=True))
    assert overdue_around(prep, eod(T0 + timedelta(days=-80))) == (False, False, True)
