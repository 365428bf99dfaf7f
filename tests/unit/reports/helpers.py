"""Events and synthetic case facts for the reports tests."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.reports.domain.facts import CaseFacts, coded_region
from shared.events import Event, EventPayload, decode, encode, new_event
from shared.events import alerts as ae
from shared.events import case as ce
from shared.events import legal as le

T0 = datetime(2025, 3, 1, 12, tzinfo=UTC)


def ev(payload: EventPayload, event_id: str | None = None, extra: dict[str, Any] | None = None) -> Event:
    envelope = new_event(payload, event_id=event_id)
    if extra:
        envelope = envelope.model_copy(update={"data": {**envelope.data, **extra}})
    return decode(encode(envelope))


def registered(case_id: str, **kw: Any) -> ce.CaseRegistered:
    base: dict[str, Any] = {
        "case_id": case_id,
        "org_id": "org-1",
        "exploitation_types": ["SexualExploitation"],
        "region": "PE-LIM",
        "rescue_date": date(2025, 3, 1),
        "registered_at": T0,
    }
    base.update(kw)
    return ce.CaseRegistered(**base)


def stage(case_id: str, name: str, at: datetime, uid: str) -> le.StageChanged:
    return le.StageChanged(
        case_id=case_id, source_system="sgf", update_id=uid, occurred_at=at, stage=name, stage_started_at=at
    )


def session(case_id: str, sid: str, at: datetime, outcome: str = "attended", kind: str = "psychosocial") -> Any:
    return ce.SessionRecorded(
        case_id=case_id,
        service_id="sv_aaaaaaaaaaaaaaaa",
        session_id=sid,
        service_kind=kind,
        outcome=outcome,
        occurred_at=at,
        recorded_at=at,
    )


def planned(case_id: str, n: int | None = 4) -> ce.ServicePlanned:
    return ce.ServicePlanned(
        case_id=case_id,
        service_id="sv_aaaaaaaaaaaaaaaa",
        spl_type="SocialCare",
        service_kind="psychosocial",
        provider_org_id="org-1",
        first_due_at=T0,
        sessions_planned=n,
        planned_at=T0,
    )


def alert(case_id: str, rule: str, at: datetime) -> ae.AlertRaised:
    return ae.AlertRaised(
        case_id=case_id,
        alert_id=ae.alert_id_for(case_id, rule, 1),
        rule=rule,
        episode=1,
        severity="high",
        summary="x",
        raised_at=at,
    )


def ack(case_id: str, rule: str, at: datetime) -> ae.AlertAcknowledged:
    return ae.AlertAcknowledged(
        case_id=case_id, alert_id=ae.alert_id_for(case_id, rule, 1), rule=rule, episode=1, by="adv", acknowledged_at=at
    )


EXPLOITATION = ["SexualExploitation", "ForcedLabour", "ChildLabour", "ForcedBegging", "Servitude", "ForcedMarriage"]
REGIONS = ["150101", "150132", "080101", "160101", "PE-CUS", "PE-LOR", "200101", "Lima norte", None]
STAGE_ORDER = [
    "complaint_filed",
    "preliminary_investigation",
    "preparatory_investigation",
    "intermediate_stage",
    "trial",
]


def synthetic_population(n: int, seed: int = 15) -> list[CaseFacts]:
    """``n`` cases of plausible per-case facts (Peru-like: most archived, few convictions)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        reg = datetime(rng.choice([2022, 2023, 2024, 2025]), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
        types = [rng.choices(EXPLOITATION, weights=[50, 25, 10, 6, 5, 4])[0]]
        if rng.random() < 0.1:
            types.append(rng.choice(EXPLOITATION))
        facts = CaseFacts(
            case_id=f"cs_synthetic{i:012d}xxxxx"[:25],
            org=rng.choice(["org-1", "org-2", "org-3"]),
            region=coded_region(rng.choice(REGIONS)),
            exploitation=sorted(set(types)),
            registered_at=reg.isoformat(),
            rescue_date=(reg - timedelta(days=rng.randint(0, 10))).date().isoformat(),
            age_band=rng.choices(["0-8", "9-17", "unknown"], weights=[15, 80, 5])[0],
            sex=rng.choices(["female", "male", "other", "unknown"], weights=[70, 27, 1, 2])[0],
            citizenship=rng.choices(["PE", "VE", "CO", "BO", "EC", "unknown"], weights=[80, 10, 4, 3, 2, 1])[0],
        )
        at = reg
        for j, name in enumerate(STAGE_ORDER[: rng.randint(1, len(STAGE_ORDER))]):
            facts.stages[f"e{i}-{j}"] = {"stage": name, "at": at.isoformat()}
            at += timedelta(days=rng.randint(10, 200))
        if rng.random() < 0.6:
            facts.stages[f"e{i}-arch"] = {"stage": "archived", "at": at.isoformat()}
        elif rng.random() < 0.1:
            facts.verdicts[f"v{i}"] = {"outcome": "conviction", "at": at.isoformat()}
        for s in range(rng.randint(0, 6)):
            facts.sessions[f"ss_{i:08d}{s:08d}"] = {
                "service_id": "sv_x",
                "kind": "psychosocial",
                "outcome": rng.choice(["attended", "attended", "missed"]),
                "at": (reg + timedelta(days=7 * s + rng.randint(1, 20))).isoformat(),
            }
        facts.services["sv_x"] = {"kind": "psychosocial", "planned": 6}
        out.append(facts)
    return out
