"""The legal service's side of the shared audit trail (``shared.audit``): every record it writes carries
``service: legal`` and lands in the one collection intake's ``GET /v1/audit`` reads (by default intake's
database; ``CENTINELA_AUDIT_DB``). ``CENTINELA_LEGAL_AUDIT_DB`` is the older name of that setting and still
wins when set. Append-only: the service only inserts.
"""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection

from shared.audit import OUTCOMES, AuditQuery, AuditTrail

__all__ = ["OUTCOMES", "AuditLog", "AuditQuery"]


class AuditLog:
    def __init__(self, collection: Collection[Any], service: str = "legal") -> None:
        self.trail = AuditTrail(collection, service)
        self.coll = collection

    def ensure_indexes(self) -> None:
        self.trail.ensure_indexes()

    def record_many(self, records: list[dict[str, Any]]) -> None:
        """Records in ``Actor.record`` form (actor, role, roles, org, action, case_id, outcome, request_id,
        details), written in one insert."""
        self.trail.write([self.trail.entry(**r) for r in records])

    def search(self, query: AuditQuery, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        filters = query.mongo()
        total = self.coll.count_documents(filters)
        cursor = (
            self.coll.find(filters)
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .skip((page - 1) * page_size)
            .limit(page_size)
        )
        return list(cursor), total
