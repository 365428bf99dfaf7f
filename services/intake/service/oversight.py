"""Use cases for oversight: the audit log (admins) and aggregate counts (no case data)."""

from __future__ import annotations

from dataclasses import dataclass

from services.intake.service.core import Caller, Forbidden, Intake, audit
from services.intake.service.paging import check_limit, codec, decode, digest
from shared.audit import AuditEntry, AuditQuery
from shared.page_cursor import Position


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditEntry]
    total: int | None
    next_cursor: str | None = None


def read_audit(
    ix: Intake,
    caller: Caller,
    query: AuditQuery,
    limit: int,
    cursor: str | None = None,
    *,
    with_total: bool = True,
) -> AuditPage:
    """Newest first by (at, id); ``cursor`` continues exactly after the last record served while the log
    grows (every read of it adds one)."""
    check_limit(ix, "query.limit", limit)
    next_cursor = None
    bound = digest(caller, query.filters())
    after = decode(ix, "audit", cursor, bound)
    records, more = ix.audit.page(query, limit, after)
    if more and records:
        last = records[-1]
        next_cursor = codec(ix, "audit").encode(Position(last.at, str(last.pk)), bound)
    found = ix.audit.count(query) if with_total else None
    audit(ix, caller, "audit.read", query.case_id, details={"filters": sorted(query.filters())})
    return AuditPage(records=records, total=found, next_cursor=next_cursor)


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
