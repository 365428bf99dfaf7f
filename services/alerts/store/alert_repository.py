"""Alert repository: idempotent ingestion and conditional transitions (one document each).

Every change goes through :meth:`AlertRepository._transition`: one ``find_one_and_update``
whose filter is the alert's id plus the state the transition is allowed from, and whose update
applies the change, bumps ``version`` and ``$push``es the outbox entries and the notifications
still to queue (``notify``, with ``notify_since`` set so a sweep finds them by an index if the
process dies before it queues them). The database applies
a single-document conditional update atomically, so of two racers only one matches; the other
gets ``None`` — exactly what it gets when the transition is not allowed at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from services.alerts.domain.alert_status import ACK_FROM, RESOLVE_FROM
from services.alerts.domain.page_cursor import Position
from services.alerts.store.documents import AlertDoc
from shared import outbox
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved

_NO_OUTBOX = {"outbox": 0}
_NEWEST_FIRST = [("raised_at", DESCENDING), ("_id", DESCENDING)]
_LIST_PROJECTION = {"outbox": 0, "evidence": 0, "history": 0, "notify": 0}


class AlertRepository:
    def __init__(self, collection: Collection | None = None) -> None:  # type: ignore[type-arg]
        self.coll: Collection = collection if collection is not None else AlertDoc._get_collection()  # type: ignore[type-arg]

    # -- reads
    def get(self, alert_id: str, scope: dict[str, Any] | None = None) -> dict[str, Any] | None:
        query: dict[str, Any] = {"_id": alert_id}
        if scope:
            query = {"$and": [query, scope]}
        return self.coll.find_one(query, _NO_OUTBOX)

    def page(
        self,
        scope: dict[str, Any],
        filters: dict[str, Any],
        limit: int,
        after: Position | None = None,
        *,
        with_total: bool = False,
    ) -> tuple[list[dict[str, Any]], bool, int | None]:
        """Up to ``limit`` alerts newest first (raised_at, then id), after ``after`` when given.

        Returns the alerts, whether more follow, and the count of the whole selection only when
        asked (counting on every page is what made large inboxes slow).
        """
        clauses: list[dict[str, Any]] = [scope, filters] if filters else [scope]
        selection = {"$and": clauses} if len(clauses) > 1 else scope
        query = selection
        if after is not None:
            query = {"$and": [*clauses, {"raised_at": {"$lte": after.at}}, _before(after, "raised_at")]}
        cursor = self.coll.find(query, _LIST_PROJECTION).sort(_NEWEST_FIRST).limit(limit + 1)
        docs = list(cursor)
        total = self.coll.count_documents(selection) if with_total else None
        return docs[:limit], len(docs) > limit, total

    def open_counts(self) -> dict[str, int]:
        counts = {s: 0 for s in ("critical", "high", "medium", "low")}
        pipeline: list[dict[str, Any]] = [
            {"$match": {"status": {"$ne": "resolved"}}},
            {"$group": {"_id": "$severity", "n": {"$sum": 1}}},
        ]
        for row in self.coll.aggregate(pipeline):
            counts[str(row["_id"])] = int(row["n"])
        return counts

    # -- the one way to change an alert
    def _transition(
        self, alert_id: str, allowed_from: dict[str, Any], set_fields: dict[str, Any], push: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The alert after the change, or None when it is not (or no longer) in an ``allowed_from`` state.

        A lost race and a disallowed transition are the same answer: by the time the loser's
        update is applied, the winner has moved the alert out of the state it was allowed from.
        """
        return self.coll.find_one_and_update(
            {"_id": alert_id, **allowed_from},
            {"$set": set_fields, "$inc": {"version": 1}, "$push": push},
            projection=_NO_OUTBOX,
            return_document=ReturnDocument.AFTER,
        )

    # -- consumed lifecycle events (idempotent: a replay finds the transition not allowed)
    def ingest_raised(self, p: AlertRaised, event_id: str, now: datetime) -> bool:
        """Store a raised alert once; True only the first time (a replay or duplicate is a no-op)."""
        doc = {
            "case_id": p.case_id,
            "rule": p.rule,
            "episode": p.episode,
            "severity": p.severity,
            "org_id": p.org_id,
            "advocate_id": p.advocate_id,
            "summary": p.summary,
            "evidence": p.evidence,
            "raised_at": p.raised_at,
            "raised_event_id": event_id,
            "status": "open",
            "escalation_level": 0,
            "version": 0,
            "created_at": now,
            "updated_at": now,
            "history": [{"at": now, "action": "raised", "by": "processor"}],
            "outbox": [],
        }
        try:  # an upsert on _id is an insert underneath: the unique _id makes it happen once
            result = self.coll.update_one({"_id": p.alert_id}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:
            return False
        return result.upserted_id is not None

    def apply_resolved(self, p: AlertResolved, now: datetime) -> dict[str, Any] | None:
        return self._transition(
            p.alert_id,
            {"status": {"$in": list(RESOLVE_FROM)}},
            {
                "status": "resolved",
                "resolved_at": p.resolved_at,
                "resolved_by": p.by,
                "resolved_auto": p.auto,
                "resolution_reason": p.reason,
                "updated_at": now,
            },
            {"history": {"at": now, "action": "resolved", "by": p.by or "processor", "auto": p.auto}},
        )

    def apply_acknowledged(self, p: AlertAcknowledged, now: datetime) -> dict[str, Any] | None:
        return self._transition(
            p.alert_id,
            {"status": {"$in": list(ACK_FROM)}},
            {
                "status": "acknowledged",
                "acknowledged_at": p.acknowledged_at,
                "acknowledged_by": p.by,
                "updated_at": now,
            },
            {"history": {"at": now, "action": "acknowledged", "by": p.by}},
        )

    def apply_escalated(self, p: AlertEscalated, now: datetime) -> dict[str, Any] | None:
        return self._transition(
            p.alert_id,
            {"escalation_level": {"$lt": p.level}},
            {"escalation_level": p.level, "escalated_at": p.escalated_at, "updated_at": now},
            {"history": {"at": now, "action": "escalated", "level": p.level}},
        )

    # -- user actions
    def transition(
        self,
        alert_id: str,
        from_statuses: tuple[str, ...],
        set_fields: dict[str, Any],
        history: dict[str, Any],
        events: list[dict[str, Any]],
        notify: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        """Move the alert to ``set_fields`` if it is in one of ``from_statuses``; None otherwise (409)."""
        return self._transition(
            alert_id,
            {"status": {"$in": list(from_statuses)}},
            _notify_since(set_fields, notify),
            _push(history, events, notify),
        )

    # -- escalation loop
    def due_for_escalation(self, severity: str, level: int, cutoff: datetime, batch: int = 500) -> list[dict[str, Any]]:
        query = {"status": "open", "severity": severity, "escalation_level": level, "raised_at": {"$lte": cutoff}}
        return list(self.coll.find(query, _LIST_PROJECTION).limit(batch))

    def escalate(
        self,
        alert_id: str,
        level: int,
        now: datetime,
        events: list[dict[str, Any]],
        notify: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any] | None:
        """Take ``level`` if nobody did: only while the alert is open at ``level - 1``.

        None when another worker took the level first or the alert was acknowledged, snoozed
        or resolved meanwhile.
        """
        return self._transition(
            alert_id,
            {"status": "open", "escalation_level": level - 1},
            _notify_since({"escalation_level": level, "escalated_at": now, "updated_at": now}, notify),
            _push({"at": now, "action": "escalated", "level": level}, events, notify),
        )

    def wake_snoozed(self, now: datetime) -> list[dict[str, Any]]:
        woken = []
        for doc in self.coll.find({"status": "snoozed", "snoozed_until": {"$lte": now}}, {"_id": 1}).limit(500):
            after = self._transition(
                doc["_id"],
                # re-checked in the update: a user may have acknowledged or re-snoozed it since the find
                {"status": "snoozed", "snoozed_until": {"$lte": now}},
                {"status": "open", "updated_at": now},
                {"history": {"at": now, "action": "snooze_ended"}},
            )
            if after is not None:
                woken.append(after)
        return woken

    # -- notifications written with a change, queued right after it (or by the sweep after a crash)
    def notified(self, alert_id: str, event_ids: list[str]) -> None:
        """Drop the notifications of ``event_ids`` from the alert once their jobs are queued."""
        self.coll.update_one({"_id": alert_id}, {"$pull": {"notify": {"event_id": {"$in": event_ids}}}})
        # a change racing this one may have pushed more: the marker goes only with the last entry
        self.coll.update_one({"_id": alert_id, "notify": {"$size": 0}}, {"$unset": {"notify_since": ""}})

    def pending_notifications(self, written_before: datetime, batch: int = 200) -> list[dict[str, Any]]:
        """Alerts whose notifications were written before ``written_before`` and never queued."""
        query = {"notify_since": {"$lte": written_before}}
        return list(self.coll.find(query, {"outbox": 0, "evidence": 0, "history": 0}).limit(batch))


def _before(after: Position, time_field: str) -> dict[str, Any]:
    """Items after ``after`` in (time, id) descending order: an older time, or the same time and a smaller id."""
    return {"$or": [{time_field: {"$lt": after.at}}, {time_field: after.at, "_id": {"$lt": after.id}}]}


def _push(
    history: dict[str, Any], events: list[dict[str, Any]], notify: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    push: dict[str, Any] = {"history": history}
    if events:
        push.update(outbox.push(events))
    if notify:
        push["notify"] = {"$each": notify}
    return push


def _notify_since(set_fields: dict[str, Any], notify: list[dict[str, Any]] | None) -> dict[str, Any]:
    if not notify:
        return set_fields
    return {**set_fields, "notify_since": notify[0]["at"]}


__all__ = ["AlertRepository"]
