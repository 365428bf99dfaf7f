"""Keyset page cursors shared by the services: opaque, signed, bound to the query they continue (no I/O).

A list that grows while it is read is paged by the sort key of the last item served, never by an
offset: an item inserted meanwhile cannot shift the pages, so walking them yields each item that
existed at the start exactly once.

A cursor is ``base64url(json) "." base64url(hmac-sha256)[:16 bytes]`` over the last sort key (a time
and an id) and a digest of the query (caller + filters): a hand-edited cursor, one from another query,
another caller or another list (each list derives its own key, ``derive_key(secret, purpose)``), or
plain garbage is refused (:class:`CursorError`), never silently read as "page one". It carries ids and
a time, never personal data.

The alerts service uses it through ``services.alerts.domain.page_cursor`` with its own key purpose.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["CursorCodec", "CursorError", "Position", "derive_key", "from_ms", "query_digest", "to_ms"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
VERSION = 1


class CursorError(ValueError):
    """The cursor is not one this service issued for this query."""


@dataclass(frozen=True)
class Position:
    """The sort key of the last item served: (time, id), both descending."""

    at: datetime
    id: str


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def query_digest(*parts: Any) -> str:
    """A short digest of what the query is (caller and filters): a cursor continues only its own query."""
    canonical = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, exactly (the database keeps milliseconds)."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return (aware - _EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


class CursorCodec:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, body: bytes) -> bytes:
        return hmac.new(self._key, body, hashlib.sha256).digest()[:16]

    def encode(self, position: Position, query: str) -> str:
        body = json.dumps(
            {"v": VERSION, "t": to_ms(position.at), "i": position.id, "q": query}, separators=(",", ":")
        ).encode()
        return f"{_b64(body)}.{_b64(self._mac(body))}"

    def decode(self, cursor: str, query: str) -> Position:
        try:
            body_part, mac_part = cursor.split(".")
            body, mac = _unb64(body_part), _unb64(mac_part)
        except (ValueError, binascii.Error) as exc:
            raise CursorError("not a cursor issued by this service") from exc
        if not hmac.compare_digest(mac, self._mac(body)):
            raise CursorError("not a cursor issued by this service")
        try:
            data = json.loads(body)
            at, item, bound = from_ms(int(data["t"])), str(data["i"]), str(data["q"])
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            raise CursorError("not a cursor issued by this service") from exc
        if data.get("v") != VERSION:
            raise CursorError("cursor from another version; start again from the first page")
        if not hmac.compare_digest(bound, query):
            raise CursorError("cursor belongs to another query; keep the same filters while paging")
        return Position(at, item)


def derive_key(secret: str, purpose: str) -> bytes:
    """A key of its own per list, derived from a configured secret (never the secret itself)."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
