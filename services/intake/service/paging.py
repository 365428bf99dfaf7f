"""Page cursors of intake's lists (``GET /v1/cases``, ``GET /v1/audit``): signed, bound to caller + filters.

The key is derived from ``CENTINELA_JWT_SECRET`` with a purpose of intake's own, so an alerts cursor (or
one of another intake list) is refused here. A bad cursor is a 422 naming ``query.cursor``.
"""

from __future__ import annotations

from typing import Any

from services.intake.service.core import Caller, Intake, Invalid
from shared.page_cursor import CursorCodec, CursorError, Position, derive_key, query_digest


def codec(ix: Intake, purpose: str) -> CursorCodec:
    return CursorCodec(derive_key(ix.settings.jwt_secret.get_secret_value(), f"centinela-intake-{purpose}-cursor"))


def digest(caller: Caller, filters: dict[str, Any]) -> str:
    """Who pages (a cursor handed to another user is refused) and what they filter on."""
    p = caller.principal
    return query_digest(p.sub, sorted(p.roles), p.org, filters)


def decode(ix: Intake, purpose: str, cursor: str | None, query: str) -> Position | None:
    if cursor is None:
        return None
    try:
        return codec(ix, purpose).decode(cursor, query)
    except CursorError as exc:
        raise Invalid("query.cursor", "invalid_cursor", str(exc)) from exc


def check_limit(ix: Intake, field: str, value: int) -> None:
    if value > ix.settings.page_size_max:
        raise Invalid(field, "less_than_equal", f"max {ix.settings.page_size_max}")
