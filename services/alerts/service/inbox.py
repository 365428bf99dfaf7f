"""Use cases of the inbox: read the caller's alerts, acknowledge, resolve, snooze.

Need-to-know: a legal advocate sees the alerts assigned to them, a supervisor those of their
organisation; an alert outside the caller's scope is "not found", exactly like a missing one.
Each change is one conditional update of the alert that also carries the fact for the ``alerts``
topic (outbox) and the notifications it causes; the change is applied here, where it is made,
and the live stream hears of it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.alerts import metrics as m
from services.alerts.domain import alert_status as st
from services.alerts.domain.page_cursor import CursorCodec, query_digest
from services.alerts.domain.visibility import scope_filter
from services.alerts.service.ingest import Notifier, pending_entry
from services.alerts.service.paging import decode_after, next_cursor
from services.alerts.service.refusals import Conflict, Forbidden, InvalidField, NotFound
from services.alerts.store.alert_repository import AlertRepository
from shared import outbox
from shared.auth import Principal
from shared.events import CloudEvent, new_event
from shared.events.alerts import AlertAcknowledged, AlertResolved
from shared.topics import ALERTS


@dataclass
class AlertsPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    total: int | None


class Inbox:
    def __init__(
        self,
        alerts: AlertRepository,
        notifier: Notifier,
        cursors: CursorCodec,
        *,
        on_change: Callable[[str, dict[str, Any]], None],
        on_outbox: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.alerts = alerts
        self.notifier = notifier
        self.cursors = cursors
        self.on_change = on_change
        self.on_outbox = on_outbox
        self.clock = clock

    # -- reads
    def scope(self, principal: Principal) -> dict[str, Any]:
        scope = scope_filter(principal)
        if scope is None:
            raise Forbidden("supervisor token carries no org claim")
        return scope

    def page(
        self, principal: Principal, filters: dict[str, Any], limit: int, cursor: str | None, *, with_total: bool = False
    ) -> AlertsPage:
        """One page of the caller's alerts, newest first; ``next_cursor`` continues exactly after it."""
        scope = self.scope(principal)
        query = query_digest(principal.sub, sorted(principal.roles), principal.org, filters)
        after = decode_after(self.cursors, cursor, query)
        docs, more, total = self.alerts.page(scope, filters, limit, after, with_total=with_total)
        return AlertsPage(docs, next_cursor(self.cursors, docs, more, "raised_at", query), total)

    def get(self, principal: Principal, alert_id: str) -> dict[str, Any]:
        doc = self.alerts.get(alert_id, self.scope(principal))
        if doc is None:
            raise NotFound("alert not found")
        return doc

    # -- changes
    def acknowledge(self, principal: Principal, alert_id: str, comment: str | None) -> dict[str, Any]:
        doc = self._load_for(principal, alert_id, st.ACK_FROM, "acknowledge")
        now = self.clock()
        # the comment stays in the service: free text may name the child, and events reach webhooks
        fact = AlertAcknowledged(
            case_id=doc["case_id"], alert_id=alert_id, rule=doc["rule"], episode=doc["episode"], by=principal.sub,
            acknowledged_at=now,
        )  # fmt: skip
        after = self._apply(
            alert_id, st.acknowledge_change(principal.sub, now, comment), new_event(fact), "acknowledged", "acknowledge"
        )
        m.time_to_ack.observe(max(0.0, (now - st.aware(doc["raised_at"])).total_seconds()))
        return after

    def resolve(self, principal: Principal, alert_id: str, comment: str | None) -> dict[str, Any]:
        doc = self._load_for(principal, alert_id, st.RESOLVE_FROM, "resolve")
        now = self.clock()
        fact = AlertResolved(
            case_id=doc["case_id"], alert_id=alert_id, rule=doc["rule"], episode=doc["episode"], auto=False,
            reason=st.MANUAL_RESOLUTION_REASON, by=principal.sub, resolved_at=now,
        )  # fmt: skip
        return self._apply(
            alert_id, st.resolve_change(principal.sub, now, comment), new_event(fact), "resolved", "resolve"
        )

    def snooze(self, principal: Principal, alert_id: str, until: datetime, comment: str | None) -> dict[str, Any]:
        now = self.clock()
        problem = st.snooze_problem(until, now)
        if problem is not None:
            raise InvalidField("body.until", problem)
        self._load_for(principal, alert_id, st.SNOOZE_FROM, "snooze")
        # a snooze is this service's own business: no fact on the topic, nobody notified
        return self._apply(
            alert_id, st.snooze_change(principal.sub, now, until.astimezone(UTC), comment), None, "snoozed", "snooze"
        )

    def _load_for(self, principal: Principal, alert_id: str, allowed: tuple[str, ...], verb: str) -> dict[str, Any]:
        doc = self.get(principal, alert_id)
        if doc["status"] not in allowed:
            raise Conflict(f"alert is {doc['status']}; cannot {verb} it")
        return doc

    def _apply(self, alert_id: str, change: st.Change, fact: CloudEvent | None, kind: str, verb: str) -> dict[str, Any]:
        events = outbox.entries(ALERTS, fact) if fact is not None else []
        pending = [pending_entry(fact, kind, change.set_fields["updated_at"])] if fact is not None else []
        after = self.alerts.transition(
            alert_id, change.allowed_from, change.set_fields, change.history, events, pending
        )
        if after is None:
            # between our read and the conditional update, someone else moved it out of an allowed state
            raise Conflict(f"alert changed meanwhile; reload it before you {verb} it")
        if events:
            self.on_outbox()
        self.on_change(kind, after)
        self.notifier.queue_pending(self.alerts, after, pending)
        return after
