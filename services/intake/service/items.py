"""Use cases on what a case holds: planned services and their sessions, risk flags, follow-ups,
referrals. Each one is "decide with the domain, write once through ``mutate``" (``change_case``).

What the caller states (a flag's kind and severity, a session's outcome ...) passes through as
keywords to the domain step (``model.raise_flag``, ``model.record_session`` ...), whose signature is
the one list of those fields; the use case adds who acts, the limits and the clock."""

from __future__ import annotations

from typing import Any

from services.intake import metrics
from services.intake.domain import access, model
from services.intake.domain.model import Case
from services.intake.service.core import (
    Caller,
    Changed,
    Intake,
    NotFound,
    audit,
    change_case,
    denied,
    in_scope,
    load,
    manager,
    missing,
    out_of_scope,
    scoped,
)


# --- services and sessions -------------------------------------------------------------------------
def plan_service(
    ix: Intake, caller: Caller, case_id: str, *, if_match: int | None, **service: Any
) -> Changed[model.Service]:
    done = change_case(
        ix,
        caller,
        case_id,
        "service.plan",
        model.plan_service,
        if_match=if_match,
        details=lambda sv: {"service_id": sv.service_id, "service_kind": sv.service_kind},
        actor=caller.sub,
        max_services=ix.settings.max_services_per_case,
        **service,
    )
    metrics.services_planned.labels(done.result.service_kind).inc()
    return done


def list_services(ix: Intake, caller: Caller, case_id: str) -> list[model.Service]:
    case, view = load(ix, caller, case_id, "service.list")
    visible = access.visible_services(caller.principal, case, view)
    audit(ix, caller, "service.list", case_id, details={"view": view})
    return [sv for sv in case.services if sv.service_id in visible]


def record_session(
    ix: Intake, caller: Caller, case_id: str, service_id: str, *, if_match: int | None, **session: Any
) -> Changed[model.Session]:
    action = "session.record"

    def authorize(case: Case) -> None:
        view = scoped(ix, caller, action, case)
        if service_id not in access.visible_services(caller.principal, case, view):
            raise NotFound("service not found")
        if not access.can_record_session(caller.principal, case, case.service(service_id).provider_org_id):
            raise denied(ix, caller, action, case_id, "this service is not assigned to your organisation")

    done = change_case(
        ix,
        caller,
        case_id,
        action,
        model.record_session,
        if_match=if_match,
        details=lambda ss: {"service_id": service_id, "session_id": ss.session_id, "outcome": ss.outcome},
        authorize=authorize,
        ids=(service_id,),
        actor=caller.sub,
        actor_org=caller.org,
        max_sessions=ix.settings.max_sessions_per_case,
        **session,
    )
    metrics.sessions_recorded.labels(done.result.outcome).inc()
    return done


def list_sessions(ix: Intake, caller: Caller, case_id: str, service_id: str) -> list[model.Session]:
    case, view = load(ix, caller, case_id, "session.list")
    if service_id not in access.visible_services(caller.principal, case, view):
        raise missing(ix, caller, "session.list", case_id, "service")
    audit(ix, caller, "session.list", case_id, details={"service_id": service_id, "view": view})
    return [x for x in case.sessions if x.service_id == service_id]


# --- risk flags and follow-ups -----------------------------------------------------------------------
def raise_flag(
    ix: Intake, caller: Caller, case_id: str, *, if_match: int | None, **flag: Any
) -> Changed[model.RiskFlag]:
    """Anyone who can see the case may raise a flag: a provider often sees the danger first."""
    done = change_case(
        ix,
        caller,
        case_id,
        "risk.flag",
        model.raise_flag,
        if_match=if_match,
        details=lambda f: {"flag_id": f.flag_id, "kind": f.kind, "severity": f.severity},
        authorize=in_scope(ix, caller, "risk.flag"),
        actor=caller.sub,
        role=caller.principal.role,
        max_items=ix.settings.max_items_per_case,
        **flag,
    )
    metrics.risk_flags.labels(done.result.kind).inc()
    return done


def list_flags(ix: Intake, caller: Caller, case_id: str) -> list[model.RiskFlag]:
    case, view = load(ix, caller, case_id, "risk.list")
    if view != "full":
        raise denied(ix, caller, "risk.list", case_id, "your role may not read risk flags")
    audit(ix, caller, "risk.list", case_id)
    return list(case.risk_flags)


def plan_followup(
    ix: Intake, caller: Caller, case_id: str, *, if_match: int | None, **followup: Any
) -> Changed[model.FollowUp]:
    return change_case(
        ix,
        caller,
        case_id,
        "followup.plan",
        model.plan_followup,
        if_match=if_match,
        details=lambda f: {"followup_id": f.followup_id},
        max_items=ix.settings.max_items_per_case,
        **followup,
    )


def record_followup(
    ix: Intake, caller: Caller, case_id: str, followup_id: str, *, if_match: int | None, **done: Any
) -> Changed[model.FollowUp]:
    return change_case(
        ix,
        caller,
        case_id,
        "followup.record",
        model.record_followup,
        if_match=if_match,
        details=lambda f: {"followup_id": f.followup_id},
        ids=(followup_id,),
        **done,
    )


# --- referrals -----------------------------------------------------------------------------------------
def refer(
    ix: Intake,
    caller: Caller,
    case_id: str,
    *,
    to_org_id: str,
    service_kind: str | None,
    consent_override_reason: str | None,
    if_match: int | None,
) -> Changed[model.Referral]:
    """Without ``consent_for_services`` only a supervisor may refer, stating why (audited apart)."""
    action = "referral.create"
    override = consent_override_reason is not None
    is_supervisor = caller.has("supervisor")

    def authorize(case: Case) -> None:
        manager(ix, caller, action)(case)
        if override and not case.consent_for_services and not is_supervisor:
            raise denied(ix, caller, action, case_id, "only a supervisor may override consent_for_services")

    done = change_case(
        ix,
        caller,
        case_id,
        action,
        model.refer,
        if_match=if_match,
        details=lambda r: {
            "referral_id": r.referral_id,
            "to_org_id": r.to_org_id,
            "consent_override": r.consent_override,
        },
        authorize=authorize,
        to_org_id=to_org_id,
        service_kind=service_kind,
        consent_override=override and is_supervisor,
        actor=caller.sub,
        max_items=ix.settings.max_items_per_case,
    )
    referral = done.result
    if referral.consent_override:
        audit(
            ix,
            caller,
            "referral.consent_override",
            case_id,
            reason=consent_override_reason,
            details={"referral_id": referral.referral_id, "to_org_id": referral.to_org_id},
        )
    return done


def change_referral(
    ix: Intake, caller: Caller, case_id: str, referral_id: str, *, status: str, if_match: int | None
) -> Changed[model.Referral]:
    action = "referral.status"

    def authorize(case: Case) -> None:
        # The receiving organisation cannot read the case but may answer the referral addressed to it.
        try:
            referral = case.referral(referral_id)
        except model.NotFound:
            referral = None
        org = caller.org
        if org is None or (org != case.org_id and (referral is None or org != referral.to_org_id)):
            raise out_of_scope(ix, caller, action, case_id)
        if referral is None:
            raise NotFound("referral not found")

    return change_case(
        ix,
        caller,
        case_id,
        action,
        model.change_referral,
        if_match=if_match,
        details=lambda r: {"referral_id": r.referral_id, "status": r.status},
        authorize=authorize,
        ids=(referral_id,),
        status=status,
        actor=caller.sub,
        actor_org=caller.org,
    )


# --- reintegration outcomes ----------------------------------------------------------------------------
def record_reintegration(
    ix: Intake, caller: Caller, case_id: str, *, if_match: int | None, **outcome: Any
) -> Changed[model.ReintegrationOutcome]:
    """The owning organisation's staff record outcomes, also after closure (that is when they matter)."""

    return change_case(
        ix,
        caller,
        case_id,
        "reintegration.record",
        model.record_reintegration,
        if_match=if_match,
        details=lambda o: {"outcome_id": o.outcome_id, "domain": o.domain, "status": o.status},
        actor=caller.sub,
        role=caller.principal.role,
        max_items=ix.settings.max_items_per_case,
        **outcome,
    )


def list_reintegration(ix: Intake, caller: Caller, case_id: str) -> Case:
    case, view = load(ix, caller, case_id, "reintegration.list")
    if view != "full":
        raise denied(ix, caller, "reintegration.list", case_id, "your role may not read reintegration outcomes")
    audit(ix, caller, "reintegration.list", case_id)
    return case
