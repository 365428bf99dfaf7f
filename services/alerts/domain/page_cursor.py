"""The alerts service's page cursors: the shared keyset cursor (:mod:`shared.page_cursor`) with the
inbox's own key purpose, so the cursors handed out before the move keep working.

A list that grows while it is read (the inbox, a webhook's delivery log) is paged by the sort key of
the last item served, never by an offset; a cursor is signed and bound to the caller and the filters.
"""

from __future__ import annotations

from shared import page_cursor as _shared
from shared.page_cursor import CursorCodec, CursorError, Position, from_ms, query_digest, to_ms

__all__ = ["CursorCodec", "CursorError", "Position", "derive_key", "from_ms", "query_digest", "to_ms"]


def derive_key(secret: str, purpose: str = "centinela-alerts-page-cursor") -> bytes:
    """A key of its own for the alerts service's cursors, derived from a configured secret."""
    return _shared.derive_key(secret, purpose)
