"""Court updates for harm from the justice process (issue 13 item 14): protective measures with a term,
their renewals and ends, and the child's testimonies. Parse -> integrate -> facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.legal.domain.deadlines import load_policy
from services.legal.domain.timeline import IllegalUpdate, Recorded, envelopes, facts_for, integrate, replay
from services.legal.domain.updates import InvalidUpdate, parse_update
from services.legal.settings import DEFAULT_DEADLINES_FILE
from shared.events import decode, encode
from shared.events import legal as ev

POLICY = load_policy(DEFAULT_DEADLINES_FILE)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def rec(n: int, kind: str, day: float, **fields: Any) -> Recorded:
    raw = {
        "source_system": "sgf",
        "update_id": f"u{n}",
        "case_id": "c-9",
        "kind": kind,
        "occurred_at": (T0 + timedelta(days=day)).isoformat(),
        **fields,
    }
    return Recorded(update=parse_update(raw), received_at=T0 + timedelta(days=400, microseconds=n))


def at(day: float) -> str:
    return (T0 + timedelta(days=day)).isoformat()


def facts(existing: list[Recorded], new: Recorded) -> list[ev.LegalFact]:
    out = facts_for(new.update, integrate(existing, new, POLICY))
    for event in envelopes(out):  # every fact is a valid wire event
        assert decode(encode(event)).payload is not None
    return out


START = [rec(1, "stage_changed", 0, stage="complaint_filed")]


def test_a_measure_with_a_term_is_granted_renewed_and_ended() -> None:
    granted = rec(2, "protective_measure_granted", 1, measure="restraining_order", measure_id="mp-1", expires_at=at(31))
    (fact,) = facts(START, granted)
    assert isinstance(fact, ev.ProtectiveMeasureGranted)
    assert (fact.measure_id, fact.expires_at) == ("mp-1", T0 + timedelta(days=31))
    renewed = rec(3, "protective_measure_renewed", 30, measure_id="mp-1", expires_at=at(90))
    (fact,) = facts([*START, granted], renewed)
    assert isinstance(fact, ev.ProtectiveMeasureRenewed) and fact.expires_at == T0 + timedelta(days=90)
    ended = rec(4, "protective_measure_ended", 60, measure_id="mp-1", reason="lifted_by_court")
    (fact,) = facts([*START, granted, renewed], ended)
    assert isinstance(fact, ev.ProtectiveMeasureEnded) and fact.reason == "lifted_by_court"
    state = replay([*START, granted, renewed, ended], POLICY)
    measure = state.protective_measures["mp-1"]
    assert measure["renewals"] == 1 and measure["ended_at"] == T0 + timedelta(days=60)
    assert measure["expires_at"] == T0 + timedelta(days=90)
    # the measure list the timeline API shows keeps its shape
    assert state.measures == [{"occurred_at": T0 + timedelta(days=1), "measure": "restraining_order"}]


def test_a_measure_without_an_id_is_named_by_its_update_id() -> None:
    granted = rec(2, "protective_measure_granted", 1, measure="shelter", expires_at=at(10))
    (fact,) = facts(START, granted)
    assert isinstance(fact, ev.ProtectiveMeasureGranted) and fact.measure_id == "u2"
    renewed = rec(3, "protective_measure_renewed", 9, measure_id="u2", expires_at=at(40))
    assert isinstance(facts([*START, granted], renewed)[0], ev.ProtectiveMeasureRenewed)


def test_an_old_style_grant_still_parses_and_has_no_term() -> None:
    (fact,) = facts(START, rec(2, "protective_measure_granted", 1, measure="restraining_order"))
    assert isinstance(fact, ev.ProtectiveMeasureGranted) and fact.expires_at is None


@pytest.mark.parametrize(
    ("kind", "fields"),
    [
        ("protective_measure_granted", {"measure": "shelter", "expires_at": at(1)}),
        ("protective_measure_renewed", {"measure_id": "mp-1", "expires_at": at(0)}),
    ],
)
def test_an_expiry_not_after_the_update_is_refused(kind: str, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidUpdate, match="expires_at must be after occurred_at"):
        rec(2, kind, 1, **fields)


def test_renewing_or_ending_an_unknown_or_ended_measure_is_illegal() -> None:
    with pytest.raises(IllegalUpdate, match="no protective measure with this id"):
        integrate(START, rec(2, "protective_measure_renewed", 1, measure_id="mp-9", expires_at=at(30)), POLICY)
    granted = rec(2, "protective_measure_granted", 1, measure="shelter", measure_id="mp-1", expires_at=at(30))
    ended = rec(3, "protective_measure_ended", 5, measure_id="mp-1")
    with pytest.raises(IllegalUpdate, match="already ended"):
        integrate(
            [*START, granted, ended],
            rec(4, "protective_measure_renewed", 6, measure_id="mp-1", expires_at=at(60)),
            POLICY,
        )
    with pytest.raises(IllegalUpdate, match="already granted"):
        integrate(
            [*START, granted], rec(4, "protective_measure_granted", 2, measure="shelter", measure_id="mp-1"), POLICY
        )
    # once ended, the same id may be granted anew
    regrant = rec(5, "protective_measure_granted", 7, measure="shelter", measure_id="mp-1", expires_at=at(90))
    assert integrate([*START, granted, ended], regrant, POLICY).after.protective_measures["mp-1"]["ended_at"] is None


def test_a_late_renewal_placed_before_its_grant_is_refused() -> None:
    granted = rec(2, "protective_measure_granted", 10, measure="shelter", measure_id="mp-1", expires_at=at(40))
    with pytest.raises(IllegalUpdate, match="no protective measure with this id"):
        integrate(
            [*START, granted], rec(3, "protective_measure_renewed", 5, measure_id="mp-1", expires_at=at(60)), POLICY
        )


def test_testimonies_are_facts_in_court_order() -> None:
    gesell = rec(2, "testimony_taken", 3, method="camara_gesell")
    (fact,) = facts(START, gesell)
    assert isinstance(fact, ev.TestimonyTaken) and fact.method == "camara_gesell"
    other = rec(3, "testimony_taken", 1, method="other")  # reported late, happened first
    state = integrate([*START, gesell], other, POLICY).after
    assert [t["method"] for t in state.testimonies] == ["other", "camara_gesell"]
    with pytest.raises(InvalidUpdate, match="method"):
        rec(4, "testimony_taken", 2, method="phone_call")


def test_no_testimony_while_the_case_is_archived() -> None:
    archived = rec(2, "case_archived", 1, reason="insufficient_evidence")
    with pytest.raises(IllegalUpdate, match="archived"):
        integrate([*START, archived], rec(3, "testimony_taken", 2, method="other"), POLICY)
