"""Newest-first keyset reads over (time, id) that stay served by an index on SecantusDB and MongoDB.

SecantusDB plans one equality plus one range on a compound ``(field, time)`` index, but scans the
collection for a top-level ``$or``, for ``$and`` wrappers, for a range on ``_id`` and for an equality +
range + another equality; and it fetches a whole index range before it sorts and limits. So a page is
read as a few queries of exactly ``{field: value, time: {$gte, $lte}}`` over time windows that widen
until the page is full (each bounded, so no read grows with the collection), the other filters are
applied here, and the tie on ``time`` is broken by the id here (a cursor is ``(time, id)``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection

from shared.page_cursor import Position

OLDEST = datetime(1900, 1, 1, tzinfo=UTC)
#: extra rows per read, for the ones the other filters leave out
_SLACK = 10


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _floor_ms(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _ceil_ms(value: datetime) -> datetime:
    floor = _floor_ms(value)
    return floor if floor == value else floor + timedelta(milliseconds=1)


def sort_key(doc: Mapping[str, Any], time_field: str) -> tuple[datetime, str]:
    return aware(doc[time_field]), str(doc["_id"])


def is_after(doc: Mapping[str, Any], time_field: str, after: Position | None) -> bool:
    """Whether ``doc`` comes after ``after`` in the newest-first order (older, or as old with a smaller id)."""
    return after is None or sort_key(doc, time_field) < (aware(after.at), after.id)


def newest_first(
    coll: Collection[Any],
    clause: Mapping[str, Any],
    time_field: str,
    need: int,
    after: Position | None,
    *,
    keep: Callable[[Mapping[str, Any]], bool] = lambda _: True,
    projection: Mapping[str, Any] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    first_window: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Up to ``need`` documents matching ``clause`` (at most one equality) and ``keep``, newest first, after
    ``after``, with ``since <= time < until``. Each read is one equality + one bounded time range."""
    floor = max(_ceil_ms(aware(since)), OLDEST) if since is not None else OLDEST
    top = aware(after.at) if after is not None else aware(now or datetime.now(UTC))
    if until is not None and (after is None or aware(until) <= top):
        # everything before ``until`` is strictly older than ``after``: the id no longer decides
        top, pos, upper_open = aware(until), None, True
    else:
        pos, upper_open = after, False
    window = first_window
    out: list[dict[str, Any]] = []
    upper_bounded = after is not None or until is not None
    while True:
        lower = _floor_ms(max(top - window, floor))
        stale = 0
        while True:
            bounds: dict[str, Any] = {"$gte": lower}
            if pos is not None:
                bounds["$lte"] = pos.at  # rows as old as ``pos`` stay in: the id decides below
            elif upper_bounded:
                bounds["$lt" if upper_open else "$lte"] = top
            chunk = need - len(out) + _SLACK + stale
            rows = list(
                coll.find({**clause, time_field: bounds}, projection)
                .sort([(time_field, DESCENDING), ("_id", DESCENDING)])
                .limit(chunk)
            )
            fresh = [d for d in rows if is_after(d, time_field, pos)]
            out += [d for d in fresh if keep(d)]
            if len(out) >= need:
                return out[:need]
            if len(rows) < chunk:
                break  # this window is read to its start
            if fresh:
                last = fresh[-1]
                pos, stale = Position(aware(last[time_field]), str(last["_id"])), 0
            else:
                stale += chunk  # more rows as old as ``pos`` than one read holds: read past them
        if lower <= floor:
            return out
        # the next, older window ends where this one started ($lt lower: its rows were all read)
        top, pos, upper_open, upper_bounded = lower, None, True, True
        window *= 4
