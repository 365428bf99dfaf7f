from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.alerts.domain.page_cursor import CursorCodec, CursorError, Position, derive_key, query_digest

AT = datetime(2026, 3, 4, 5, 6, 7, 123000, tzinfo=UTC)


def test_round_trip_keeps_the_position_to_the_millisecond() -> None:
    codec = CursorCodec(derive_key("secret"))
    q = query_digest("adv-1", ["legal_advocate"], None, {"status": "open"})
    assert codec.decode(codec.encode(Position(AT, "al_9"), q), q) == Position(AT, "al_9")
    # naive UTC as read back from the database gives the same cursor
    assert codec.encode(Position(AT.replace(tzinfo=None), "al_9"), q) == codec.encode(Position(AT, "al_9"), q)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: "garbage",
        lambda c: "",
        lambda c: c + "x",
        lambda c: c.replace(".", ""),
        lambda c: ("B" if c[0] != "B" else "C") + c[1:],  # body edited: the signature no longer matches
        lambda c: "...",
        lambda c: "é." + c,
    ],
)
def test_anything_but_an_issued_cursor_is_refused(mangle: object) -> None:
    codec = CursorCodec(derive_key("secret"))
    q = query_digest("adv-1")
    cursor = codec.encode(Position(AT, "al_9"), q)
    with pytest.raises(CursorError):
        codec.decode(mangle(cursor), q)  # type: ignore[operator]


def test_a_cursor_continues_only_its_own_query_and_key() -> None:
    codec = CursorCodec(derive_key("secret"))
    cursor = codec.encode(Position(AT, "al_9"), query_digest("adv-1", {"status": "open"}))
    with pytest.raises(CursorError, match="another query"):
        codec.decode(cursor, query_digest("adv-1", {"status": "resolved"}))
    with pytest.raises(CursorError):
        CursorCodec(derive_key("other secret")).decode(cursor, query_digest("adv-1", {"status": "open"}))
