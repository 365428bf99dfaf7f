"""Request and response bodies of the alerts API (distinct from Mongo documents and events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from shared.bounds import BoundedDatetime

Status = Literal["open", "acknowledged", "snoozed", "resolved"]
Severity = Literal["low", "medium", "high", "critical"]


class AlertOut(BaseModel):
    id: str
    case_id: str
    rule: str
    episode: int
    severity: str
    status: str
    org_id: str | None = None
    advocate_id: str | None = None
    summary: str | None = None
    raised_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    snoozed_until: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolved_auto: bool | None = None
    resolution_reason: str | None = None
    escalation_level: int = 0
    escalated_at: datetime | None = None
    updated_at: datetime | None = None
    link: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any], base_url: str) -> AlertOut:
        fields = {k: doc.get(k) for k in cls.model_fields if k not in ("id", "link")}
        fields["escalation_level"] = doc.get("escalation_level") or 0
        return cls(id=doc["_id"], link=f"{base_url.rstrip('/')}/v1/alerts/{doc['_id']}", **fields)


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    by: str | None = None
    comment: str | None = None
    level: int | None = None
    auto: bool | None = None
    until: datetime | None = None
    #: ``reassigned``: the case's advocate before and after (the alert follows the current one)
    previous_advocate_id: str | None = None
    advocate_id: str | None = None
    #: ``updated`` / ``reassigned``: what the processor said changed (evidence, advocate)
    changed: list[str] | None = None
    #: ``updated``: the summary and evidence the alert showed before this update
    previous_summary: str | None = None
    previous_evidence: dict[str, Any] | None = None


class AlertDetail(AlertOut):
    evidence: dict[str, Any] = Field(default_factory=dict, description="what triggered it: deadline, events")
    history: list[HistoryEntry] = Field(default_factory=list)

    @classmethod
    def from_doc(cls, doc: dict[str, Any], base_url: str) -> AlertDetail:
        base = AlertOut.from_doc(doc, base_url).model_dump()
        history = [HistoryEntry.model_validate(h) for h in doc.get("history") or []]
        return cls(**base, evidence=doc.get("evidence") or {}, history=history)


class AlertPage(BaseModel):
    items: list[AlertOut]
    limit: int
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page (same filters); null on the last page. Pages are "
        "keyed on (raised_at, id), so alerts arriving while you walk them never repeat or shift an item"
    )
    total: int | None = Field(None, description="number of alerts matching the filters; only with `total=true`")


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str | None = Field(None, max_length=2000, description="kept in the alert history; never published")


class SnoozeIn(CommentIn):
    # bounded (and converted to UTC) inside validation: an offset that pushes the value out of what a
    # datetime can hold is a 422 naming body.until, not an OverflowError
    until: BoundedDatetime = Field(description="RFC 3339 time with offset, in the future (at most 90 days)")


class SubscriptionFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[str] = Field(default_factory=list, max_length=50, description="empty: every rule")
    severities: list[Severity] = Field(default_factory=list, description="empty: every severity")
    org_id: str | None = Field(None, max_length=64, description="only alerts of this organisation")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl = Field(description="http(s) endpoint receiving POSTs")
    secret: str = Field(min_length=16, max_length=256, description="HMAC key; write-only, never returned")
    filter: SubscriptionFilter = Field(default_factory=SubscriptionFilter)
    description: str | None = Field(None, max_length=200)


class SubscriptionOut(BaseModel):
    id: str
    url: str
    filter: SubscriptionFilter
    description: str | None = None
    created_at: datetime
    created_by: str

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SubscriptionOut:
        return cls(
            id=doc["_id"],
            url=doc["url"],
            filter=SubscriptionFilter(
                rules=doc.get("rules") or [], severities=doc.get("severities") or [], org_id=doc.get("org_id")
            ),
            description=doc.get("description"),
            created_at=doc["created_at"],
            created_by=doc["created_by"],
        )


class DeliveryOut(BaseModel):
    id: str
    event_id: str | None
    event_type: str | None
    alert_id: str | None
    attempt: int
    at: datetime
    outcome: str
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    limit: int
    next_cursor: str | None = Field(description="pass as `cursor` for the next (older) page; null on the last page")


class DirectoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=254, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
    org_id: str = Field(min_length=1, max_length=64)
    role: Literal["legal_advocate", "supervisor"]
    language: Literal["es", "en"] | None = Field(
        None, description="language of this person's alert e-mails; absent: CENTINELA_ALERTS_DEFAULT_LANGUAGE"
    )


class DirectoryOut(BaseModel):
    user_id: str
    email: str
    org_id: str
    role: str
    language: str | None = None
    updated_at: datetime | None = None


class PolicyOut(BaseModel):
    """The effective alert policy: the shipped defaults with the operator's file applied over them.

    Each rule lists under ``overridden`` the keys the operator's file set (empty: all defaults);
    ``escalation_overridden`` names the severities whose escalation time the file set.
    """

    model_config = ConfigDict(extra="allow")  # keys the processor's policy adds later pass through

    source: str = Field(description="the policy file in force")
    version: int
    escalation: dict[str, str] = Field(description="severity -> time an unacknowledged alert waits per level")
    escalation_overridden: list[str] = Field(default_factory=list)
    rules: dict[str, dict[str, Any]] = Field(description="rule id -> its settings and `overridden` keys")
