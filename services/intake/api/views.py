"""Domain objects to response bodies: what each view of a case may show."""

from __future__ import annotations

from services.intake.api import schemas as s
from services.intake.domain import access, model
from services.intake.domain.model import Case
from services.intake.service.cases import CaseRead
from shared.auth import Principal


def service_out(sv: model.Service) -> s.ServiceOut:
    return s.ServiceOut(spl_Type=sv.spl_type, **sv.model_dump(exclude={"spl_type"}))


def session_out(x: model.Session) -> s.SessionOut:
    return s.SessionOut.model_validate(x.model_dump())


def flag_out(f: model.RiskFlag) -> s.RiskFlagOut:
    return s.RiskFlagOut.model_validate(f.model_dump())


def followup_out(f: model.FollowUp) -> s.FollowUpOut:
    return s.FollowUpOut(followup_needed_by_date=f.planned_date, **f.model_dump(exclude={"planned_date"}))


def referral_out(r: model.Referral) -> s.ReferralOut:
    return s.ReferralOut.model_validate(r.model_dump())


def reintegration_out(o: model.ReintegrationOutcome) -> s.ReintegrationOut:
    return s.ReintegrationOut.model_validate(o.model_dump())


def reintegration_list(case: Case) -> s.ReintegrationList:
    ordered = sorted(case.reintegration, key=lambda o: (o.effective_date, o.recorded_at))
    return s.ReintegrationList(
        items=[reintegration_out(o) for o in ordered],
        current={k: reintegration_out(o) for k, o in case.reintegration_status().items()},
    )


def summary(case: Case, view: access.View) -> s.CaseSummary:
    if view == "provider":  # service providers see no legal or identity data
        return s.CaseSummary(
            case_id=case.case_id,
            version=case.version,
            org_id=case.org_id,
            status=case.status,
            registered_at=case.registered_at,
        )
    return s.CaseSummary.model_validate(case.model_dump())


def case_out(p: Principal, read: CaseRead) -> s.CaseOut:
    case, view = read.case, read.view
    services = access.visible_services(p, case, view)
    out = s.CaseOut(
        **summary(case, view).model_dump(),
        view=view,
        updated_at=case.updated_at,
        services=[service_out(sv) for sv in case.services if sv.service_id in services],
        sessions=[session_out(x) for x in case.sessions if x.service_id in services],
    )
    if view == "full":
        out = out.model_copy(
            update={
                "trafficking_status": case.trafficking_status,
                "methods_of_control": case.methods_of_control,
                "place_of_exploitation": read.protected.get("place_of_exploitation"),
                "place_of_exploitation_code": case.place_of_exploitation_code,
                "referring_org_id": case.referring_org_id,
                "consent_for_services": case.consent_for_services,
                "consent_reporting": case.consent_reporting,
                "person_ref": case.person_ref,
                "linked_case_ids": read.linked_case_ids,
                "known_elsewhere": read.known_elsewhere,
                "risk_flags": [flag_out(f) for f in case.risk_flags],
                "followups": [followup_out(f) for f in case.followups],
                "referrals": [referral_out(r) for r in case.referrals],
                "reintegration": reintegration_list(case).items,
                "prosecutor_refs": (
                    s.ProsecutorRefsOut.model_validate(case.prosecutor_refs.model_dump())
                    if case.prosecutor_refs
                    else None
                ),
                "identity": read.identity,
            }
        )
    return out
