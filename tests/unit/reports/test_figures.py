"""Per-case facts folded from events, contributions, cells and the figures with suppression."""

from __future__ import annotations

from datetime import timedelta

from services.reports.domain.facts import UNCODED, CaseFacts, coded_region
from services.reports.domain.figures import (
    cell_id,
    cell_key,
    contribution,
    figures,
    flatten,
    merge,
    outcome_of,
    quantile,
    stage_stays,
)
from shared.events import legal as le
from tests.unit.reports.helpers import T0, ack, alert, ev, planned, registered, session, stage

CASE = "cs_aaaaaaaaaaaaaaaaaaaaaa"


def folded(*events: object) -> CaseFacts:
    facts = CaseFacts(case_id=CASE)
    for e in events:
        facts.apply(e)  # type: ignore[arg-type]
    return facts


def test_region_counts_only_when_coded() -> None:
    assert coded_region("PE-LIM") == "PE-LIM"
    assert coded_region("150101") == "150101"
    assert coded_region("15") == "15"
    assert coded_region("Lima norte, cerca del mercado") == UNCODED
    assert coded_region(None) == UNCODED


def test_registration_sets_dimensions_and_optional_codes() -> None:
    # the codes are typed fields of case.registered (optional additions to v1)
    facts = CaseFacts(case_id=CASE)
    facts.apply(ev(registered(CASE, age_band="9-17", sex="female", citizenship="VE")))
    assert cell_key(facts) == {
        "org": "org-1",
        "region": "PE-LIM",
        "exploitation": "SexualExploitation",
        "period": "2025-03",
    }
    assert (facts.age_band, facts.sex, facts.citizenship) == ("9-17", "female", "VE")
    # a registration without them (an older producer) leaves them unknown
    bare = CaseFacts(case_id=CASE)
    bare.apply(ev(registered(CASE)))
    assert (bare.age_band, bare.sex, bare.citizenship) == ("unknown", "unknown", "unknown")
    # raw data of a newer producer is read too, but codes outside the vocabularies are never stored
    raw = CaseFacts(case_id=CASE)
    raw.apply(ev(registered(CASE)), {"age_band": "0-8", "sex": "male", "citizenship": "CO"})
    assert (raw.age_band, raw.sex, raw.citizenship) == ("0-8", "male", "CO")
    other = CaseFacts(case_id=CASE)
    other.apply(ev(registered(CASE)), {"age_band": "14 years", "sex": "F", "citizenship": "Venezuela"})
    assert (other.age_band, other.sex, other.citizenship) == ("unknown", "unknown", "unknown")


def test_applying_an_event_twice_or_out_of_order_gives_the_same_facts() -> None:
    events = [
        ev(registered(CASE)),
        ev(stage(CASE, "complaint_filed", T0, "u1")),
        ev(stage(CASE, "preliminary_investigation", T0 + timedelta(days=30), "u2")),
        ev(alert(CASE, "legal.no_activity", T0 + timedelta(days=100))),
        ev(ack(CASE, "legal.no_activity", T0 + timedelta(days=100, hours=5))),
    ]
    once = folded(*events)
    twice = folded(*events, *events)
    reversed_order = folded(*reversed(events))
    assert once.to_doc() == twice.to_doc() == reversed_order.to_doc()
    assert contribution(once) == contribution(twice)


def test_stage_stays_merge_repeated_entries_and_skip_the_current_stage() -> None:
    facts = folded(
        ev(stage(CASE, "complaint_filed", T0, "u1")),
        ev(stage(CASE, "preliminary_investigation", T0 + timedelta(days=10), "u2")),
        # a moved deadline republishes the same stage: still one stay
        ev(stage(CASE, "preliminary_investigation", T0 + timedelta(days=40), "u3")),
        ev(stage(CASE, "preparatory_investigation", T0 + timedelta(days=70), "u4")),
    )
    assert stage_stays(facts) == [("complaint_filed", 10.0), ("preliminary_investigation", 60.0)]


def test_outcomes_archive_dismissal_conviction() -> None:
    arch = le.CaseArchived(
        case_id=CASE, source_system="s", update_id="a", occurred_at=T0 + timedelta(days=5), reason="x"
    )
    assert outcome_of(folded(ev(stage(CASE, "preliminary_investigation", T0, "u1")), ev(arch))) == "archived"
    assert outcome_of(folded(ev(stage(CASE, "intermediate_stage", T0, "u1")), ev(arch))) == "dismissed"
    verdict = le.VerdictIssued(
        case_id=CASE, source_system="s", update_id="v", occurred_at=T0, stage="verdict", outcome="conviction"
    )
    assert outcome_of(folded(ev(verdict))) == "convicted"
    assert outcome_of(folded(ev(stage(CASE, "trial", T0, "u1")))) is None


def test_contribution_counts_psychosocial_coverage_and_alerts() -> None:
    facts = folded(
        ev(registered(CASE)),
        ev(planned(CASE, 4)),
        ev(session(CASE, "ss_aaaaaaaaaaaaaaa1", T0 + timedelta(days=9), outcome="missed")),
        ev(session(CASE, "ss_aaaaaaaaaaaaaaa2", T0 + timedelta(days=12))),
        ev(session(CASE, "ss_aaaaaaaaaaaaaaa3", T0 + timedelta(days=19))),
        ev(alert(CASE, "service.overdue", T0 + timedelta(days=8))),
        ev(ack(CASE, "service.overdue", T0 + timedelta(days=8, hours=3, minutes=10))),
    )
    c = contribution(facts)
    assert c["rescue_to_psychosocial_days"] == {"12": 1}
    assert (c["sessions_planned"], c["sessions_attended"]) == (4, 2)
    assert (c["alerts_raised"], c["alerts_acknowledged"], c["ack_hours"]) == (1, 1, {"3": 1})
    assert "prosecuted" not in c


def test_quantiles_are_nearest_rank_on_the_histogram() -> None:
    hist = {str(d): 1 for d in range(1, 11)}  # 1..10 days
    assert quantile(hist, 0.5) == 5.0
    assert quantile(hist, 0.9) == 9.0
    assert quantile({}, 0.5) is None


def _cell(n: int, **extra: object) -> dict[str, object]:
    cell: dict[str, object] = {}
    for i in range(n):
        merge(
            cell,
            {"cases": 1, "prosecuted": 1, "outcome_archived": 1 if i % 2 else 0, "stage_days": {"trial": {str(i): 1}}},
        )
    cell.update(extra)
    return cell


def test_small_groups_are_suppressed_entirely() -> None:
    fig = figures(_cell(3), k=5)
    assert fig["cases"] is None and fig["prosecution"] is None and fig["suppressed"] == ["*"]


def test_small_counts_inside_a_large_group_are_suppressed() -> None:
    cell = _cell(20, outcome_convicted=2)
    fig = figures(cell, k=5)
    assert fig["cases"] == 20
    assert fig["prosecution"]["archived"] == {"n": 10, "share": 0.5}
    assert fig["prosecution"]["convicted"] == {"n": None, "share": None}
    assert "prosecution.convicted.n" in fig["suppressed"]
    assert fig["prosecution"]["stage_days"]["trial"]["median"] == 9.0
    # a statistic over fewer than k stays is blanked too
    assert fig["prosecution"]["stage_days"]["final"] == {"n": 0, "median": None, "p90": None}
    assert figures(cell, k=1)["prosecution"]["convicted"]["n"] == 2


def test_cell_id_and_csv_columns_are_stable() -> None:
    facts = folded(ev(registered(CASE, exploitation_types=["ForcedLabour", "SexualExploitation"])))
    assert cell_id(cell_key(facts)) == "org-1|PE-LIM|ForcedLabour+SexualExploitation|2025-03"
    assert list(flatten(figures({}, 1))) == list(flatten(figures(_cell(30), 5)))


def test_overall_figures_are_exported_as_gauges_and_suppressed_ones_are_nan() -> None:
    import math

    from prometheus_client import REGISTRY

    from services.reports.service.projector import publish_figures

    cell = _cell(20, outcome_convicted=2, sessions_planned=40, sessions_attended=30, with_services=20)
    publish_figures(figures(cell, k=5))
    value = REGISTRY.get_sample_value
    assert value("centinela_reports_cases") == 20
    assert value("centinela_reports_prosecution_outcome_ratio", {"outcome": "archived"}) == 0.5
    assert math.isnan(value("centinela_reports_prosecution_outcome_ratio", {"outcome": "convicted"}) or 0.0)
    assert value("centinela_reports_stage_duration_days", {"stage": "trial", "quantile": "median"}) == 9.0
    assert value("centinela_reports_service_coverage_ratio") == 0.75
