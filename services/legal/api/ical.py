"""A minimal, strict iCalendar (RFC 5545) writer for the hearing and deadline feed.

Only what the feed needs: CRLF line ends, lines folded at 75 octets (never inside a UTF-8
character), TEXT escaping, a stable UID per item and a DTSTAMP. An event names the case code
and the kind of item, nothing about the child.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.legal.service import AgendaItem

# Spanish first: what a person sees in their calendar application
LABELS = {
    "hearing": "audiencia",
    "stage_deadline": "plazo de la etapa",
    "archive_elevation": "plazo para pedir elevación del archivo",
    "elevation_decision": "plazo del fiscal superior",
    "appeal_sentence": "plazo de apelación (sentencia)",
    "appeal_order": "plazo de apelación (auto)",
    "cassation": "plazo de casación",
    "trial_resumption": "plazo para reanudar el juicio",
    "accusation_observations": "plazo de observaciones a la acusación",
}


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> str:
    """RFC 5545 3.1: at most 75 octets per line, continuation lines start with one space."""
    out: list[str] = []
    current = b""
    limit = 75
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > limit:
            out.append(current.decode())
            current = b" "
            limit = 75
        current += encoded
    out.append(current.decode())
    return "\r\n".join(out)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def uid(item: AgendaItem) -> str:
    digest = hashlib.sha256(f"{item.case_id}|{item.kind}|{item.ref}".encode()).hexdigest()[:32]
    return f"{digest}@centinela-legal"


def calendar(items: Iterable[AgendaItem], *, now: datetime, time_zone: str = "America/Lima") -> str:
    tz = ZoneInfo(time_zone)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//centinela//legal calendar//ES",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "X-WR-CALNAME:centinela: audiencias y plazos",
    ]
    for item in items:
        summary = f"{item.case_id} · {LABELS.get(item.kind, item.kind)}"
        lines += ["BEGIN:VEVENT", f"UID:{uid(item)}", f"DTSTAMP:{stamp(now)}"]
        if item.kind == "hearing":
            lines += [f"DTSTART:{stamp(item.at)}", f"DTEND:{stamp(item.at + timedelta(hours=1))}"]
        else:
            # a deadline is the whole last day (it ends at the next local midnight)
            last_day = (item.at - timedelta(microseconds=1)).astimezone(tz).date()
            lines += [
                f"DTSTART;VALUE=DATE:{last_day.strftime('%Y%m%d')}",
                f"DTEND;VALUE=DATE:{(last_day + timedelta(days=1)).strftime('%Y%m%d')}",
            ]
        lines += [f"SUMMARY:{escape(summary)}", f"CATEGORIES:{escape(item.kind)}", "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)
