"""Per-case facts of the read model, folded from events.

Every fact is stored under a stable key — the event id for stage entries and verdicts, the item id
for services, sessions, follow-ups and alerts — so applying an event twice (a replay, a rebalance,
at-least-once delivery) or out of order across topics leaves the same facts: the read model is a
function of the *set* of events, which is what makes the consumer idempotent by event id.

No identity ever enters: the quasi-identifiers kept for the export (age band, sex, citizenship) are
the coarse codes ``centinela.case.registered`` carries (``shared.events.case``: AgeBand, Sex,
COUNTRY_ALPHA2_PATTERN), "unknown" when it does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from shared.events import Event
from shared.events import alerts as ae
from shared.events import case as ce
from shared.events import legal as le

# Regions count only when coded: ISO 3166-2 (``PE-LIM``) or Peru's UBIGEO (2, 4 or 6 digits). A free
# text region ("Lima norte, cerca del mercado") could single out a place, so it becomes "uncoded".
ISO_3166_2_RE = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")
UBIGEO_RE = re.compile(r"^\d{2}(\d{2}){0,2}$")
UNCODED = "uncoded"
UNKNOWN = "unknown"

CITIZENSHIP_RE = re.compile(ce.COUNTRY_ALPHA2_PATTERN)


def coded_region(region: str | None) -> str:
    if not region:
        return UNCODED
    value = region.strip().upper()
    return value if ISO_3166_2_RE.match(value) or UBIGEO_RE.match(value) else UNCODED


def _iso(at: datetime | date | None) -> str | None:
    if at is None:
        return None
    if isinstance(at, datetime):
        return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
    return at.isoformat()


@dataclass
class CaseFacts:
    case_id: str
    org: str | None = None
    region: str = UNCODED
    exploitation: list[str] = field(default_factory=list)
    registered_at: str | None = None
    rescue_date: str | None = None
    closed_at: str | None = None
    age_band: str = UNKNOWN
    sex: str = UNKNOWN
    citizenship: str = UNKNOWN
    # event id -> {"stage", "at"}: every stage the prosecution entered (archived, reopened included)
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # event id -> {"outcome", "at"}
    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # service id -> {"kind", "planned"}; session id -> {"service_id", "kind", "outcome", "at"}
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # follow-up id -> {"planned", "done"}
    followups: dict[str, dict[str, Any]] = field(default_factory=dict)
    # alert id -> {"rule", "raised_at", "ack_at"}
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)

    FIELDS = (
        "org",
        "region",
        "exploitation",
        "registered_at",
        "rescue_date",
        "closed_at",
        "age_band",
        "sex",
        "citizenship",
        "stages",
        "verdicts",
        "services",
        "sessions",
        "followups",
        "alerts",
    )

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"_id": self.case_id}
        for name in self.FIELDS:
            doc[name] = getattr(self, name)
        return doc

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> CaseFacts:
        facts = cls(case_id=str(doc["_id"]))
        for name in cls.FIELDS:
            if name in doc and doc[name] is not None:
                setattr(facts, name, doc[name])
        return facts

    # -- folding ---------------------------------------------------------------------------------
    def apply(self, event: Event, raw_data: dict[str, Any] | None = None) -> bool:
        """Fold one event in; True when it is one the read model uses (False: ignored type)."""
        p = event.payload
        eid = event.id
        if isinstance(p, ce.CaseRegistered):
            self.org = p.org_id
            self.region = coded_region(p.region)
            self.exploitation = sorted(set(p.exploitation_types))
            self.registered_at = _iso(p.registered_at)
            self.rescue_date = _iso(p.rescue_date)
            typed = {"age_band": p.age_band, "sex": p.sex, "citizenship": p.citizenship}
            self._quasi_identifiers({**(raw_data or {}), **{k: v for k, v in typed.items() if v is not None}})
        elif isinstance(p, ce.AdvocateAssigned):
            self.org = self.org or p.org_id
        elif isinstance(p, ce.CaseClosed):
            self.closed_at = _iso(p.closed_at)
        elif isinstance(p, ce.CaseStatusChanged):
            if (
                p.status in ("Active", "FollowUp")
                and self.closed_at
                and p.previous_status in ("Closed", "ClosedReferred")
            ):
                self.closed_at = None
        elif isinstance(p, ce.ServicePlanned):
            self.services[p.service_id] = {"kind": p.service_kind, "planned": p.sessions_planned}
        elif isinstance(p, ce.SessionRecorded):
            self.sessions[p.session_id] = {
                "service_id": p.service_id,
                "kind": p.service_kind,
                "outcome": p.outcome,
                "at": _iso(p.occurred_at),
            }
        elif isinstance(p, ce.FollowUpPlanned):
            entry = self.followups.setdefault(p.followup_id, {})
            entry["planned"] = _iso(p.planned_date)
        elif isinstance(p, ce.FollowUpRecorded):
            entry = self.followups.setdefault(p.followup_id, {})
            entry["done"] = _iso(p.done_date)
        elif isinstance(p, le.LegalFact):
            if isinstance(p, le.VerdictIssued):
                self.verdicts[eid] = {"outcome": p.outcome, "at": _iso(p.occurred_at)}
            stage = p.stage
            if isinstance(p, le.CaseArchived):
                stage = "archived"
            if stage is not None:
                at = p.stage_started_at if isinstance(p, le.StageChanged) else p.occurred_at
                self.stages[eid] = {"stage": stage, "at": _iso(at)}
            elif not self.stages:
                # a legal fact without a stage still says a prosecution exists
                self.stages[eid] = {"stage": None, "at": _iso(p.occurred_at)}
        elif isinstance(p, ae.AlertRaised):
            entry = self.alerts.setdefault(p.alert_id, {})
            entry.update(rule=p.rule, raised_at=_iso(p.raised_at))
        elif isinstance(p, ae.AlertAcknowledged):
            entry = self.alerts.setdefault(p.alert_id, {})
            entry.setdefault("rule", p.rule)
            ack_at = _iso(p.acknowledged_at)
            # the first acknowledgement counts (a replayed or repeated one keeps the earliest)
            if entry.get("ack_at") is None or (ack_at is not None and ack_at < entry["ack_at"]):
                entry["ack_at"] = ack_at
        elif isinstance(p, (ae.AlertResolved, ae.AlertEscalated)):
            entry = self.alerts.setdefault(p.alert_id, {})
            entry.setdefault("rule", p.rule)
        else:
            return False
        return True

    def _quasi_identifiers(self, data: dict[str, Any]) -> None:
        """The registration's coarse codes (typed fields; for a producer newer than this reader, the
        raw data): anything outside the vocabularies is ignored, never stored."""
        band = data.get("age_band")
        if isinstance(band, str) and band in ce.AGE_BANDS:
            self.age_band = band
        sex = data.get("sex")
        if isinstance(sex, str) and sex in ce.SEXES:
            self.sex = sex
        citizenship = data.get("citizenship")
        if isinstance(citizenship, str) and CITIZENSHIP_RE.match(citizenship):
            self.citizenship = citizenship
