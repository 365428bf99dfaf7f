"""A strict RFC 5545 reader for tests (the icalendar package is not a dependency here).

Refuses what calendar applications choke on: bare LF, lines over 75 octets, folds that do not start
with one space, unbalanced BEGIN/END, an event without UID, DTSTAMP or DTSTART, malformed dates.
"""

from __future__ import annotations

import re
from typing import Any

_PROP = re.compile(r"^([A-Z][A-Z0-9-]*)((?:;[A-Z-]+=[^;:]*)*):(.*)$")
_UTC = re.compile(r"^\d{8}T\d{6}Z$")
_DATE = re.compile(r"^\d{8}$")


def parse(text: str) -> list[dict[str, Any]]:
    raw = text.encode()
    assert raw.endswith(b"\r\n"), "content must end with CRLF"
    physical = raw.split(b"\r\n")[:-1]
    for octets in physical:
        assert b"\n" not in octets and b"\r" not in octets, "bare LF or CR inside a line"
        assert len(octets) <= 75, f"line longer than 75 octets ({len(octets)})"
    logical: list[str] = []
    for octets in physical:
        text_line = octets.decode()
        if text_line.startswith(" "):
            assert logical, "a continuation line cannot come first"
            logical[-1] += text_line[1:]
        else:
            logical.append(text_line)
    stack: list[str] = []
    events: list[dict[str, Any]] = []
    calendar_props: dict[str, str] = {}
    current: dict[str, Any] | None = None
    for line in logical:
        match = _PROP.match(line)
        assert match, f"not a content line: {line!r}"
        name, params, value = match.groups()
        if name == "BEGIN":
            stack.append(value)
            if value == "VEVENT":
                current = {}
            continue
        if name == "END":
            assert stack and stack[-1] == value, f"END:{value} does not close {stack[-1:]}"
            stack.pop()
            if value == "VEVENT":
                assert current is not None
                for required in ("UID", "DTSTAMP", "DTSTART"):
                    assert required in current, f"event without {required}"
                assert _UTC.match(current["DTSTAMP"]), "DTSTAMP must be UTC date-time"
                events.append(current)
                current = None
            continue
        if current is not None:
            if name in ("DTSTART", "DTEND"):
                pattern = _DATE if "VALUE=DATE" in params else _UTC
                assert pattern.match(value), f"{name} malformed: {value}"
            current[name] = value
        else:
            calendar_props[name] = value
    assert not stack, f"unclosed {stack}"
    assert calendar_props.get("VERSION") == "2.0" and "PRODID" in calendar_props
    return events
