"""Intake's side of the shared audit trail (``shared.audit``): it writes its records there and reads the
whole trail (every service's) for ``GET /v1/audit`` and ``GET /v1/cases/{case_id}/views``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.intake.store.keyset import newest_first
from shared.audit import AuditEntry, AuditQuery, AuditTrail
from shared.page_cursor import Position

#: the first time window of a keyset read, widened fourfold until a page is full (store.keyset)
AUDIT_FIRST_WINDOW = timedelta(hours=1)
#: the equalities a keyset read can serve from an index ``(field, at)``, most selective first
_KEYSET_FIELDS = ("case_id", "request_id", "actor", "service")


class AuditLog:
    """Writes intake's records (``service: intake``) and reads every service's."""

    def __init__(self, trail: AuditTrail) -> None:
        self.trail = trail

    @property
    def coll(self) -> Any:
        return self.trail.coll

    def ensure_indexes(self) -> None:
        self.trail.ensure_indexes()

    def record(
        self,
        *,
        actor: str,
        role: str,
        roles: list[str],
        org: str | None,
        action: str,
        case_id: str | None,
        outcome: str,
        request_id: str | None,
        reason: str | None,
        details: dict[str, Any] | None = None,
    ) -> None:
        self.trail.record(
            actor=actor,
            role=role,
            roles=roles,
            org=org,
            action=action,
            case_id=case_id,
            outcome=outcome,
            request_id=request_id,
            reason=reason,
            details=details,
        )

    def page(self, query: AuditQuery, limit: int, after: Position | None = None) -> tuple[list[AuditEntry], bool]:
        """Up to ``limit`` records newest first by (at, id), after ``after``; and whether more follow. One
        keyset read on ``(case_id, at)``, ``(request_id, at)``, ``(actor, at)``, ``(service, at)`` or ``(at)``;
        the other filters are applied here."""
        equal = query.equalities()
        clause: dict[str, Any] = {}
        for name in _KEYSET_FIELDS:
            # older records carry no ``service`` field: a service filter is applied here, not in the read
            if name in equal and name != "service":
                clause = {name: equal[name]}
                break
        docs = newest_first(
            self.coll,
            clause,
            "at",
            limit + 1,
            after,
            keep=query.keep,
            since=query.since,
            until=query.until,
            first_window=AUDIT_FIRST_WINDOW,
        )
        return [AuditEntry.from_doc(d) for d in docs[:limit]], len(docs) > limit

    def count(self, query: AuditQuery) -> int:
        return int(self.coll.count_documents(query.mongo()))
