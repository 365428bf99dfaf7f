"""Which court integrator systems each case is shared with: a projection of intake's
``centinela.case.prosecutor_refs_set`` events (their ``shared_with_systems``), one document per case.

``{_id: case_id, org_id, systems: [source_system...], shared_at}``. The latest event wins (a PUT of the
references replaces the list); a replayed older event never undoes a later one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.collection import Collection

CHUNK = 500


class ShareRepository:
    def __init__(self, collection: Collection[Any]) -> None:
        self.coll = collection

    def set_shares(self, case_id: str, org_id: str, systems: list[str], at: datetime) -> bool:
        """Store the case's systems unless a newer list is already stored; True when stored."""
        current = self.coll.find_one({"_id": case_id}, {"shared_at": 1}) or {}
        stored_at = current.get("shared_at")
        if stored_at is not None:
            stored_at = stored_at if stored_at.tzinfo else stored_at.replace(tzinfo=UTC)
            if stored_at > at:
                return False
        self.coll.replace_one(
            {"_id": case_id},
            {"org_id": org_id, "systems": sorted(set(systems)), "shared_at": at},
            upsert=True,
        )
        return True

    def systems_of_many(self, case_ids: list[str]) -> dict[str, set[str]]:
        """Each known case's systems (a case never shared is absent)."""
        out: dict[str, set[str]] = {}
        for start in range(0, len(case_ids), CHUNK):
            for doc in self.coll.find({"_id": {"$in": case_ids[start : start + CHUNK]}}, {"systems": 1}):
                out[doc["_id"]] = set(doc.get("systems") or [])
        return out
