"""Keyset paging of the alerts service's growing lists (the inbox, a webhook's delivery log)."""

from __future__ import annotations

from typing import Any

from services.alerts.domain.page_cursor import CursorCodec, CursorError, Position
from services.alerts.service.refusals import InvalidField


def decode_after(cursors: CursorCodec, cursor: str | None, query: str) -> Position | None:
    """Where the page that ``cursor`` continues starts; a cursor not issued for ``query`` is a bad field."""
    if cursor is None:
        return None
    try:
        return cursors.decode(cursor, query)
    except CursorError as exc:
        raise InvalidField("query.cursor", str(exc)) from exc


def next_cursor(cursors: CursorCodec, docs: list[dict[str, Any]], more: bool, key: str, query: str) -> str | None:
    """The cursor continuing after the last of ``docs`` (sorted by ``key`` then ``_id``); None on the last page."""
    if not (more and docs):
        return None
    return cursors.encode(Position(docs[-1][key], docs[-1]["_id"]), query)
