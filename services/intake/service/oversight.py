"""Use cases for oversight: the audit log (admins) and aggregate counts (no case data)."""

from __future__ import annotations

from dataclasses import dataclass

from services.intake.service.core import Caller, Forbidden, Intake, Invalid, audit
from services.intake.store.documents import AuditRecord
from services.intake.store.repository import AuditQuery


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    total: int


def read_audit(ix: Intake, caller: Caller, query: AuditQuery, page: int, page_size: int) -> AuditPage:
    if page_size > ix.settings.page_size_max:
        raise Invalid("query.page_size", "less_than_equal", f"max {ix.settings.page_size_max}")
    records, total = ix.audit.search(query, page, page_size)
    audit(ix, caller, "audit.read", query.case_id, details={"filters": sorted(query.filters())})
    return AuditPage(records=records, total=total)


@dataclass(frozen=True)
class Counts:
    scope: str
    by_status: dict[str, int]


def stats(ix: Intake, caller: Caller) -> Counts:
    """Operators and admins see every organisation; supervisors their own."""
    if caller.has("ops_viewer", "admin"):
        org, scope = None, "all"
    elif caller.org:
        org, scope = caller.org, f"org:{caller.org}"
    else:
        raise Forbidden("the token carries no organisation")
    return Counts(scope=scope, by_status=ix.repo.counts_by_status(org))
