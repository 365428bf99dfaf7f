"""Who may see an alert (need-to-know) — pure functions, no I/O.

A legal advocate sees the alerts assigned to them, a supervisor those of their organisation;
admins configure the service but do not read case alerts.
"""

from __future__ import annotations

from typing import Any

from shared.auth import Principal

#: roles that read alerts; admins configure the service but do not read case alerts (need-to-know)
READER_ROLES = ("legal_advocate", "supervisor")


def scope_filter(principal: Principal) -> dict[str, Any] | None:
    """MongoDB filter of the alerts ``principal`` may see, or None when it may see none."""
    clauses: list[dict[str, Any]] = []
    if principal.has("legal_advocate"):
        clauses.append({"advocate_id": principal.sub})
    if principal.has("supervisor") and principal.org:
        clauses.append({"org_id": principal.org})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def visible(principal: Principal, alert: dict[str, Any]) -> bool:
    """The same rule as :func:`scope_filter`, for one alert already in memory (live stream)."""
    if principal.has("legal_advocate") and alert.get("advocate_id") == principal.sub:
        return True
    return bool(principal.has("supervisor") and principal.org and alert.get("org_id") == principal.org)
