"""Alert repository: idempotent ingestion and conditional transitions (one document each).

Every change goes through :meth:`AlertRepository._transition`: one conditional ``update_one``
whose filter is the alert's id plus the state the transition is allowed from, and whose update
applies the change, bumps ``version`` and ``$push``es the outbox entries and the notifications
still to queue (``notify``, with ``notify_since`` set so a sweep finds them by an index if the
process dies before it queues them). The database applies
a single-document conditional update atomically, so of two racers only one matches; the other
gets ``None`` — exactly what it gets when the transition is not allowed at all. The alert after
the change is then read by its id.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.alerts.domain.alert_status import ACK_FROM, RESOLVE_FROM, aware
from services.alerts.domain.page_cursor import Position
from services.alerts.store.documents import AlertDoc
from shared import outbox
from shared.events.alerts import AlertAcknowledged, AlertEscalated, AlertRaised, AlertResolved

_NO_OUTBOX = {"outbox": 0}
#: the inbox's first time window, widened by the density it finds; alerts are never before 1900
_FIRST_WINDOW = timedelta(minutes=10)
_OLDEST = datetime(1900, 1, 1, tzinfo=UTC)
UNRESOLVED = ("open", "acknowledged", "snoozed")
SEVERITY_ORDER = ("critical", "high", "medium", "low")
_NEWEST_FIRST = [("raised_at", DESCENDING), ("_id", DESCENDING)]
#: extra rows per read, for the ones the page's other filters (status, rule...) leave out
_SLACK = 10
_MS = timedelta(milliseconds=1)
#: the window remembered for a scope: what its last page spanned, and this much more
_HINT_MARGIN = 1.25
_MAX_HINTS = 20_000
_DUPLICATE_KEY = 11000
_LIST_PROJECTION = {"outbox": 0, "evidence": 0, "history": 0, "notify": 0}


class AlertRepository:
    def __init__(self, collection: Collection | None = None) -> None:
        self.coll: Collection = collection if collection is not None else AlertDoc._get_collection()
        #: per scope (an advocate, an organisation), the time window that last filled a page
        self._window_hints: dict[str, timedelta] = {}

    # -- reads
    def get(self, alert_id: str, scope: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """The alert, or None when it is missing or outside ``scope``: read by id alone (the local database
        server reads the whole collection for ``{$and: [{_id}, scope]}``), the scope checked here."""
        doc = self.coll.find_one({"_id": alert_id}, _NO_OUTBOX)
        if doc is None or (scope and not _matches(doc, scope)):
            return None
        return doc

    def page(
        self,
        scope: dict[str, Any],
        filters: dict[str, Any],
        limit: int,
        after: Position | None = None,
        *,
        with_total: bool = False,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], bool, int | None]:
        """Up to ``limit`` alerts newest first (raised_at, then id), after ``after`` when given.

        Returns the alerts, whether more follow, and the count of the whole selection only when
        asked (counting on every page is what made large inboxes slow).

        Query shapes are chosen so that the database reads about as many index entries as the page
        needs, whatever the size of the collection. A database server that fetches every entry of an
        index range before it sorts and limits (the local one does; MongoDB does not) reads the whole
        inbox for ``find({advocate_id}).sort(raised_at).limit(n)``; so the inbox is read in time
        windows of one equality + a ``raised_at`` range (widened until the page is full), and a
        case's alerts, few by nature, by ``case_id`` alone. The other filters are applied here.
        """
        need = limit + 1
        rest = {k: v for k, v in filters.items() if k != "case_id"}
        if "case_id" in filters:
            found = [
                d
                for d in self.coll.find({"case_id": filters["case_id"]}, _LIST_PROJECTION)
                if _matches(d, scope) and _matches(d, rest) and _is_after(d, after)
            ]
            docs = sorted(found, key=_sort_key, reverse=True)[:need]
        else:
            clauses = scope["$or"] if "$or" in scope else [scope]
            merged: dict[str, dict[str, Any]] = {}
            for clause in clauses:
                for d in self._windowed(clause, rest, need, after, now or datetime.now(UTC)):
                    merged[d["_id"]] = d
            docs = sorted(merged.values(), key=_sort_key, reverse=True)[:need]
        total = self._count(scope, filters) if with_total else None
        return docs[:limit], len(docs) > limit, total

    def _count(self, scope: dict[str, Any], filters: dict[str, Any]) -> int:
        """How many alerts of ``scope`` match ``filters``, read through the scope's (or the case's) index.

        Not ``count_documents``: the local database server answers every count by reading the whole
        collection (it never uses an index for a count), so the cost would follow the data stored,
        not the caller's inbox. The equality filters outside the index are applied here, as the page does.
        """
        fields = {"_id": 1, "advocate_id": 1, "org_id": 1, **dict.fromkeys(filters, 1)}
        rest = {k: v for k, v in filters.items() if k != "case_id"}
        if "case_id" in filters:
            reads = [({"case_id": filters["case_id"]}, scope)]
        else:
            reads = [(clause, {}) for clause in (scope["$or"] if "$or" in scope else [scope])]
        ids: set[str] = set()  # an alert in two clauses of the scope (own, and the organisation's) counts once
        for query, also in reads:
            ids.update(d["_id"] for d in self.coll.find(query, fields) if _matches(d, also) and _matches(d, rest))
        return len(ids)

    def _windowed(
        self, clause: dict[str, Any], rest: dict[str, Any], need: int, after: Position | None, now: datetime
    ) -> list[dict[str, Any]]:
        """The newest ``need`` alerts matching ``clause`` and ``rest`` after ``after``, read window by window.

        Each read is sorted and limited in the database too (what MongoDB serves from the index
        alone); a read that comes back full continues inside the same window from its last alert.
        """
        pos = after  # everything served so far is at or before this position
        top = after.at if after is not None else now
        start = aware(top)
        hint_key = repr(sorted(clause.items()))
        window = self._window_hints.get(hint_key, _FIRST_WINDOW)
        out: list[dict[str, Any]] = []
        while True:
            lower = max(top - window, _OLDEST)
            lower = lower.replace(microsecond=lower.microsecond // 1000 * 1000)  # the database keeps ms
            stale = 0
            while True:
                # ``$gt`` a millisecond before, not ``$gte``: the same alerts (the database keeps ms), but the
                # local server's index on (.., raised_at desc, _id desc) reads ``$gte`` as ``$gt`` and lost
                # an alert raised exactly at a window's edge
                bounds: dict[str, Any] = {"$gt": lower - _MS}
                if pos is not None:
                    bounds["$lte"] = pos.at  # raised_at == pos.at stays in: the id decides
                # the rows tied with ``pos`` on raised_at come back again first (served already): room for them
                chunk = need - len(out) + _SLACK + stale
                rows = list(
                    self.coll.find({**clause, "raised_at": bounds}, _LIST_PROJECTION).sort(_NEWEST_FIRST).limit(chunk)
                )
                fresh = [d for d in rows if _is_after(d, pos)]
                out += [d for d in fresh if _matches(d, rest)]
                if len(out) >= need:
                    # next time, a window about as long as this page took: the database reads every
                    # alert of the window, so a window grown x2..x8 past the page costs as much again
                    self._remember(hint_key, (start - aware(out[need - 1]["raised_at"])) * _HINT_MARGIN)
                    return out
                if len(rows) < chunk:
                    break  # the window is read to its start
                stale = len(rows) - len(fresh)
                if fresh:
                    last = fresh[-1]
                    pos = Position(last["raised_at"], last["_id"])
                    stale = sum(1 for d in fresh if d["raised_at"] == last["raised_at"])
            if lower <= _OLDEST:
                return out
            # wider next time: by the density seen (enough for what is missing, twice over), within x2 .. x8
            grow = 8.0 if not rows else min(8.0, max(2.0, 2 * (need - len(out)) / len(rows)))
            pos = Position(lower, "")  # strictly older than the window just read
            top, window = lower, window * grow

    def _remember(self, key: str, window: timedelta) -> None:
        """The window that filled a page of this scope: where its next page, or next request, starts."""
        if len(self._window_hints) >= _MAX_HINTS:
            self._window_hints.clear()  # a bound, not a cache policy: a hint is only a first guess
        self._window_hints[key] = max(window, _FIRST_WINDOW / 10)

    def open_counts(self) -> dict[str, int]:
        """Unresolved alerts per severity (the escalation tick's gauge): one read of the unresolved
        alerts' severities through the (status, severity, ...) index, counted here; never a scan of
        the resolved history. Not ``count_documents``: the local database server counts by reading
        every document of the collection, index or not (MongoDB serves this read from the index alone)."""
        counts = dict.fromkeys(SEVERITY_ORDER, 0)
        for doc in self.coll.find({"status": {"$in": list(UNRESOLVED)}}, {"_id": 0, "severity": 1}):
            severity = doc.get("severity")
            if severity in counts:
                counts[severity] += 1
        return counts

    # -- the one way to change an alert
    def _transition(
        self, alert_id: str, allowed_from: dict[str, Any], set_fields: dict[str, Any], push: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The alert after the change, or None when it is not (or no longer) in an ``allowed_from`` state.

        A lost race and a disallowed transition are the same answer: by the time the loser's
        update is applied, the winner has moved the alert out of the state it was allowed from.

        A conditional ``update_one``, then the alert read by id; not ``find_one_and_update``: the local
        database server's findAndModify reads the whole collection for every call (its write step
        re-asserts the query as ``{_id, $and: [query]}``, which no index serves): 28 ms with 2,000 alerts
        stored, 114 ms with 10,000, against ~10 ms flat for the update and the read. The update is the
        same atomic single-document write; the alert read after it may also carry a change made just after.
        """
        changed = self.coll.update_one(
            {"_id": alert_id, **allowed_from}, {"$set": set_fields, "$inc": {"version": 1}, "$push": push}
        )
        if not changed.matched_count:
            return None
        return self.coll.find_one({"_id": alert_id}, _NO_OUTBOX)

    # -- consumed lifecycle events (idempotent: a replay finds the transition not allowed)
    def ingest_raised(self, p: AlertRaised, event_id: str, now: datetime) -> bool:
        """Store a raised alert once; True only the first time (a replay or duplicate is a no-op)."""
        doc = _raised_doc(p, event_id, now)
        try:  # an upsert on _id is an insert underneath: the unique _id makes it happen once
            result = self.coll.update_one({"_id": p.alert_id}, {"$setOnInsert": doc}, upsert=True)
        except DuplicateKeyError:
            return False
        return result.upserted_id is not None

    def ingest_raised_many(self, raised: list[tuple[AlertRaised, str]], now: datetime) -> dict[str, dict[str, Any]]:
        """Store a batch of raised alerts with one unordered insert; the alerts stored for the first time.

        The deterministic alert id is the ``_id``: a replay, or a duplicate inside the batch or from
        another worker, is a duplicate-key error on that one document only, and is not new. The
        documents returned are the ones just written, so nothing is read back.
        """
        docs: dict[str, dict[str, Any]] = {}
        for p, event_id in raised:
            docs.setdefault(p.alert_id, {"_id": p.alert_id, **_raised_doc(p, event_id, now)})
        if not docs:
            return {}
        try:
            self.coll.insert_many(list(docs.values()), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != _DUPLICATE_KEY for e in errors):
                raise
            ordered = list(docs)
            for e in errors:
                docs.pop(ordered[e["index"]], None)
        return docs

    def get_many(self, alert_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The alerts of ``alert_ids`` (one query on _id), by id; missing ones are absent."""
        if not alert_ids:
            return {}
        return {d["_id"]: d for d in self.coll.find({"_id": {"$in": list(set(alert_ids))}}, _NO_OUTBOX)}

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

    def apply_updated(self, p: Any, now: datetime) -> tuple[dict[str, Any], str | None] | None:
        """An unresolved alert's current summary, evidence, severity and advocate (``centinela.alert.updated``).

        The alert keeps its id; an advocate change is kept in the history (from, to) and the alert
        follows the case's current advocate, so the inbox scope moves with it. Applied only when newer
        than the last update applied (``updated_at``): a replayed or late older fact matches nothing.
        Returns the alert after the change and the advocate it had before, or None when nothing changed.
        """
        before = self.coll.find_one(  # by id alone: any other field in the filter makes the local server scan
            {"_id": p.alert_id}, {"status": 1, "advocate_id": 1, "last_update_at": 1, "summary": 1, "evidence": 1}
        )
        if before is None or before.get("status") == "resolved":
            return None
        last = before.get("last_update_at")
        if last is not None and aware(last) >= aware(p.updated_at):
            return None
        previous = before.get("advocate_id")
        set_fields: dict[str, Any] = {
            "summary": p.summary,
            "evidence": p.evidence,
            "severity": p.severity,
            "last_update_at": p.updated_at,
            "updated_at": now,
        }
        history: dict[str, Any] = {"at": now, "action": "updated", "changed": list(p.changed)}
        if before.get("summary") != p.summary or before.get("evidence") != p.evidence:
            # the inbox shows the current text; what it said before stays in the history
            history["previous_summary"] = before.get("summary")
            history["previous_evidence"] = before.get("evidence")
        if p.advocate_id is not None and p.advocate_id != previous:
            set_fields["advocate_id"] = p.advocate_id
            if p.org_id is not None:
                set_fields["org_id"] = p.org_id
            history = {
                **history,
                "action": "reassigned",
                "previous_advocate_id": previous,
                "advocate_id": p.advocate_id,
            }
        # conditional on what was read, so a resolution in between is never reopened or moved; two updates
        # of one alert never race (its case's facts share a partition, read by one consumer at a time)
        cond: dict[str, Any] = {"status": {"$ne": "resolved"}, "advocate_id": previous}
        cond["last_update_at"] = last if last is not None else {"$exists": False}
        changed = self._transition(p.alert_id, cond, set_fields, {"history": history})
        if changed is None:
            return None
        return changed, previous if changed.get("advocate_id") != previous else None

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
        """Drop the notifications of ``event_ids`` from the alert once their jobs are queued.

        Usually they are all the alert holds: then one update drops them and the marker together,
        conditional on exactly those being there. Otherwise (a change racing this one pushed more)
        they are pulled and the marker goes only with the last entry.
        """
        ids = list(dict.fromkeys(event_ids))
        only_these = {"_id": alert_id, "notify": {"$size": len(ids)}, "notify.event_id": {"$all": ids}}
        if (
            ids
            and self.coll.update_one(only_these, {"$set": {"notify": []}, "$unset": {"notify_since": ""}}).matched_count
        ):
            return
        self.coll.update_one({"_id": alert_id}, {"$pull": {"notify": {"event_id": {"$in": event_ids}}}})
        # a change racing this one may have pushed more: the marker goes only with the last entry
        self.coll.update_one({"_id": alert_id, "notify": {"$size": 0}}, {"$unset": {"notify_since": ""}})

    def pending_notifications(self, written_before: datetime, batch: int = 200) -> list[dict[str, Any]]:
        """Alerts whose notifications were written before ``written_before`` and never queued."""
        query = {"notify_since": {"$lte": written_before}}
        return list(self.coll.find(query, {"outbox": 0, "evidence": 0, "history": 0}).limit(batch))


def _raised_doc(p: AlertRaised, event_id: str, now: datetime) -> dict[str, Any]:
    """The stored form of a raised alert (inserted once, never overwritten by a replay)."""
    return {
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


def _sort_key(doc: dict[str, Any]) -> tuple[datetime, str]:
    return aware(doc["raised_at"]), str(doc["_id"])


def _is_after(doc: dict[str, Any], after: Position | None) -> bool:
    """Whether ``doc`` comes after ``after`` in the newest-first order (an older time, or the same time
    and a smaller id)."""
    return after is None or _sort_key(doc) < (aware(after.at), after.id)


def _matches(doc: dict[str, Any], cond: dict[str, Any]) -> bool:
    """The equality filters and ``$or`` of scopes the inbox uses, evaluated on a fetched alert."""
    for key, value in cond.items():
        if key == "$or":
            if not any(_matches(doc, c) for c in value):
                return False
        elif key == "$and":
            if not all(_matches(doc, c) for c in value):
                return False
        elif doc.get(key) != value:
            return False
    return True


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
