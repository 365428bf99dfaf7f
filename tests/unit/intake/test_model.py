from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from services.intake.domain import access, model
from services.intake.domain.model import Case
from shared.auth import Principal
from shared.events import decode, encode, new_event

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def case(**kw: object) -> Case:
    base: dict[str, object] = dict(
        case_id="cs_" + "A" * 22, org_id="org-1", registered_at=NOW, registered_by="u", updated_at=NOW,
        advocate_id="adv-1", consent_for_services=True, rescue_date=date(2024, 1, 1),
    )  # fmt: skip
    base.update(kw)
    return Case.model_validate(base)


def plan(c: Case, **kw: object) -> tuple[Case, model.Service, list]:
    args: dict = dict(
        service_kind="psychosocial", spl_type=None, provider_org_id="prov", first_due_at=None, timeframe="3_days",
        interval_days=14, sessions_planned=6, actor="u", now=NOW, max_services=3,
    )  # fmt: skip
    args.update(kw)
    return model.plan_service(c, **args)


def test_ids_are_opaque_and_match_the_path_patterns() -> None:
    import re

    ids = {model.new_id("cs") for _ in range(200)}
    assert len(ids) == 200 and all(re.match(model.CASE_ID_PATTERN, i) for i in ids)
    assert re.match(model.ITEM_ID_PATTERN, model.new_id("sv", 12))


def test_timeframe_sets_first_due_and_events_round_trip() -> None:
    new, service, events = plan(case())
    assert service.first_due_at == NOW + timedelta(days=3) and service.spl_type == "SocialCare"
    assert new.version == 2 and len(new.services) == 1
    (ev,) = events
    decoded = decode(encode(new_event(ev)))
    assert decoded.payload.first_due_at == NOW + timedelta(days=3)  # type: ignore[attr-defined]
    assert decoded.payload.sessions_planned == 6  # type: ignore[attr-defined]


def test_service_rules() -> None:
    with pytest.raises(model.RuleViolation, match="spl_Type"):
        plan(case(), spl_type="Legal")
    with pytest.raises(model.RuleViolation, match="interval_days"):
        plan(case(), interval_days=None)
    with pytest.raises(model.RuleViolation):
        plan(case(), first_due_at=NOW, timeframe="1_day")
    with pytest.raises(model.RuleViolation, match="Closed"):
        plan(case(status="Closed"))
    c = case()
    for _ in range(3):
        c, _, _ = plan(c)
    with pytest.raises(model.LimitExceeded):
        plan(c)


def test_a_body_that_contradicts_itself_names_the_field_before_the_case_is_consulted() -> None:
    """Issue 11 item 8: these are 422 naming the field (InvalidInput), not 409; checked before the
    case's state, so a closed case with a bad body still gets the field named."""
    closed = case(status="Closed")
    for kw, field in (
        ({"spl_type": "Legal"}, "spl_Type"),
        ({"interval_days": None}, "interval_days"),
        ({"first_due_at": NOW, "timeframe": "1_day"}, "first_due_at"),
        ({"first_due_at": None, "timeframe": None}, "first_due_at"),
    ):
        with pytest.raises(model.InvalidInput) as info:
            plan(closed, **kw)
        assert info.value.field == field and info.value.status == 422
    args: dict = dict(kind="reintegration", planned_date=date(2025, 6, 1), now=NOW, max_items=0)
    with pytest.raises(model.InvalidInput) as info:
        model.plan_followup(case(), done_date=date(2025, 1, 1), outcome=None, **args)
    assert info.value.field == "outcome" and info.value.message == "done_date and outcome go together"
    with pytest.raises(model.InvalidInput) as info:
        model.plan_followup(case(), done_date=None, outcome="declined", **args)
    assert info.value.field == "done_date"
    with pytest.raises(model.InvalidInput) as info:
        model.update_case(case(), {"advocate_id": None}, NOW)
    assert info.value.field == "advocate_id"
    c, service, _ = plan(case())
    with pytest.raises(model.InvalidInput) as info:
        model.record_session(
            c, service.service_id, outcome="attended", occurred_at=NOW, missed_reason="transport",
            actor="p", actor_org="prov", now=NOW, max_sessions=0,
        )  # fmt: skip
    assert info.value.field == "missed_reason"
    # what the case holds stays a plain RuleViolation (409)
    with pytest.raises(model.RuleViolation) as clash:
        model.refer(case(consent_for_services=False), to_org_id="org-2", service_kind=None, consent_override=False,
                    actor="u", now=NOW, max_items=5)  # fmt: skip
    assert not isinstance(clash.value, model.InvalidInput)


def test_session_carries_service_kind_and_checks_dates() -> None:
    c, service, _ = plan(case())
    c2, session, (ev,) = model.record_session(
        c, service.service_id, outcome="missed", occurred_at=NOW, missed_reason="transport",
        actor="p", actor_org="prov", now=NOW, max_sessions=10,
    )  # fmt: skip
    assert ev.service_kind == "psychosocial" and ev.provider_org_id == "prov"  # type: ignore[attr-defined]
    assert c2.sessions == [session]
    with pytest.raises(model.RuleViolation, match="rescue_date"):
        model.record_session(
            c, service.service_id, outcome="attended", occurred_at=datetime(2023, 1, 1, tzinfo=UTC),
            missed_reason=None, actor="p", actor_org="prov", now=NOW, max_sessions=10,
        )  # fmt: skip
    with pytest.raises(model.NotFound):
        model.record_session(
            c, "sv_nope", outcome="attended", occurred_at=NOW, missed_reason=None, actor="p", actor_org=None,
            now=NOW, max_sessions=10,
        )  # fmt: skip


def test_status_and_advocate_changes_are_separate_facts() -> None:
    c = case()
    new, events = model.update_case(c, {"status": "Closed", "advocate_id": "adv-2", "region": "Puno"}, NOW)
    assert [e.TYPE for e in events] == [
        "centinela.case.updated",
        "centinela.case.advocate_assigned",
        "centinela.case.status_changed",
        "centinela.case.closed",
    ]
    assert new.version == c.version + 1 and new.status == "Closed"
    same, none = model.update_case(new, {"status": "Closed"}, NOW)
    assert none == [] and same.version == new.version
    with pytest.raises(model.RuleViolation):
        model.update_case(c, {"advocate_id": None}, NOW)


def test_reregistration_fact_only_with_previous_cases() -> None:
    c = case(person_ref="pr_x")
    assert [e.TYPE for e in model.register(c, [], NOW)] == ["centinela.case.registered"]
    types = [e.TYPE for e in model.register(c, ["cs_b", "cs_a"], NOW)]
    assert types == ["centinela.case.registered", "centinela.person.reregistered"]
    assert model.register(c, ["cs_b", "cs_a"], NOW)[1].previous_case_ids == ["cs_a", "cs_b"]  # type: ignore[attr-defined]


def test_referrals_need_consent_and_follow_primero_transitions() -> None:
    args: dict = dict(to_org_id="org-2", service_kind=None, actor="u", now=NOW, max_items=5)
    with pytest.raises(model.RuleViolation, match="consent"):
        model.refer(case(consent_for_services=False), consent_override=False, **args)
    c, ref, (ev,) = model.refer(case(consent_for_services=False), consent_override=True, **args)
    assert ref.consent_override and ev.consent_override  # type: ignore[attr-defined]
    with pytest.raises(model.RuleViolation, match="receiving"):
        model.change_referral(c, ref.referral_id, status="accepted", actor="u", actor_org="org-1", now=NOW)
    c, ref2, _ = model.change_referral(c, ref.referral_id, status="accepted", actor="r", actor_org="org-2", now=NOW)
    assert [h.status for h in ref2.history] == ["in_progress", "accepted"]
    c, _, _ = model.change_referral(c, ref.referral_id, status="done", actor="r", actor_org="org-2", now=NOW)
    with pytest.raises(model.RuleViolation, match="done to revoked"):
        model.change_referral(c, ref.referral_id, status="revoked", actor="u", actor_org="org-1", now=NOW)


def test_followups() -> None:
    args: dict = dict(kind="reintegration", planned_date=date(2025, 6, 1), now=NOW, max_items=5)
    with pytest.raises(model.RuleViolation):
        model.plan_followup(case(), done_date=date(2025, 1, 1), outcome=None, **args)
    c, fu, events = model.plan_followup(case(), done_date=None, outcome=None, **args)
    assert len(events) == 1
    c, done, (ev,) = model.record_followup(c, fu.followup_id, done_date=date(2025, 5, 1), outcome="declined", now=NOW)
    assert done.outcome == "declined" and ev.TYPE == "centinela.followup.recorded"
    with pytest.raises(model.RuleViolation):
        model.record_followup(c, fu.followup_id, done_date=date(2025, 5, 1), outcome="declined", now=NOW)


def p(role: str, sub: str = "u", org: str | None = "org-1") -> Principal:
    return Principal(sub=sub, roles=frozenset({role}), org=org)


def test_access_decisions() -> None:
    c, _, _ = plan(case())
    assert access.case_view(p("intake_officer"), c) == "full"
    assert access.case_view(p("intake_officer", org="org-2"), c) is None
    assert access.case_view(p("legal_advocate", sub="adv-1", org=None), c) == "full"
    assert access.case_view(p("legal_advocate", sub="adv-2"), c) is None
    assert access.case_view(p("service_provider", org="prov"), c) == "provider"
    assert access.case_view(p("service_provider", org="other"), c) is None
    assert access.case_view(p("ops_viewer", org=None), c) is None
    assert access.can_see_identity(p("supervisor"), c) and not access.can_see_identity(p("legal_advocate", "adv-1"), c)
    assert access.is_break_glass(p("admin", org=None), c)
    assert access.can_record_session(p("service_provider", org="prov"), c, "prov")
    assert not access.can_record_session(p("service_provider", org="prov"), c, "other")
