"""Justice-access figures from the cells, the CSV of them, and the audited anonymised export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.reports.domain.anonymise import COLUMNS, ExportResult, anonymise, htcds_row
from services.reports.domain.figures import DIMENSIONS, figures, flatten, merge
from services.reports.store.readmodel import CellRepository, FactsRepository
from shared.audit import AuditTrail
from shared.auth import Principal
from shared.metrics import counter

EXPORTS = counter("centinela_reports_exports_total", "anonymised exports written", ("outcome",))
#: the audit action of each use case (the shared trail, ``service: reports``)
FIGURES_READ, FIGURES_CSV, EXPORT = "reports.figures.read", "reports.figures.csv", "reports.export.anonymised"


@dataclass(frozen=True)
class Who:
    """Who asks, as the audit trail names them: token subject, roles, organisation, request id."""

    actor: str
    role: str
    roles: tuple[str, ...] = ()
    org: str | None = None
    request_id: str | None = None

    @classmethod
    def of(cls, principal: Principal, request_id: object = None) -> Who:
        rid = request_id if isinstance(request_id, str) else None
        return cls(principal.sub, principal.role, tuple(sorted(principal.roles)), principal.org, rid)


@dataclass(frozen=True)
class ReportQuery:
    org: str | None = None
    region: str | None = None
    exploitation: str | None = None
    period_from: str | None = None  # YYYY-MM
    period_to: str | None = None
    group_by: str | None = None


def _matches(cell: dict[str, Any], q: ReportQuery) -> bool:
    if q.region and cell.get("region") != q.region:
        return False
    return not (q.exploitation and q.exploitation not in (cell.get("exploitation_types") or []))


def _groups(cell: dict[str, Any], group_by: str | None) -> list[str]:
    if group_by is None:
        return ["all"]
    if group_by == "exploitation":
        # a case with several types counts in each of its types' groups
        return list(cell.get("exploitation_types") or ["none"])
    return [str(cell.get(group_by))]


class Reports:
    """The figures and the export; ``audit`` is the shared trail (None: nothing is recorded, for tools that
    only read the cells)."""

    def __init__(self, cells: CellRepository, facts: FactsRepository, audit: AuditTrail | None, k: int) -> None:
        self.cells = cells
        self.facts = facts
        self.audit = audit
        self.k = k

    def record(
        self,
        who: Who,
        action: str,
        outcome: str = "ok",
        *,
        details: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        """One record on the shared trail: ids and codes only (the route comes from the request served)."""
        if self.audit is None:
            return
        self.audit.record(
            actor=who.actor,
            role=who.role,
            roles=list(who.roles or (who.role,)),
            org=who.org,
            action=action,
            outcome=outcome,
            request_id=who.request_id,
            reason=reason,
            details=details,
        )

    def justice_access(self, q: ReportQuery) -> dict[str, Any]:
        if q.group_by is not None and q.group_by not in DIMENSIONS:
            raise ValueError(f"group_by must be one of {', '.join(DIMENSIONS)}")
        merged: dict[str, dict[str, Any]] = {}
        cells = [c for c in self.cells.find(q.org, q.period_from, q.period_to) if _matches(c, q)]
        for cell in cells:
            for group in _groups(cell, q.group_by):
                merge(merged.setdefault(group, {}), cell.get("data") or {})
        rows = [{"group": group, "figures": figures(data, self.k)} for group, data in sorted(merged.items())]
        if not rows and q.group_by is None:
            rows = [{"group": "all", "figures": figures({}, self.k)}]
        return {
            "filters": {
                "org": q.org,
                "region": q.region,
                "exploitation": q.exploitation,
                "from": q.period_from,
                "to": q.period_to,
            },
            "group_by": q.group_by,
            "k": self.k,
            "groups": rows,
        }

    @staticmethod
    def csv_of(report: dict[str, Any]) -> str:
        """The figures of :meth:`justice_access` as CSV, one row per group."""
        columns = list(flatten(figures({}, 1)))
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["group_by", "group", *columns])
        for row in report["groups"]:
            flat = flatten(row["figures"])
            writer.writerow(
                [report["group_by"] or "", row["group"], *["" if flat.get(c) is None else flat[c] for c in columns]]
            )
        return buf.getvalue()

    def export(
        self,
        *,
        k: int,
        max_suppressed: float,
        who: Who,
        reason: str | None,
    ) -> ExportResult:
        """Build the anonymised export; the audit record is written before the rows leave."""
        try:
            result = anonymise((htcds_row(f) for f in self.facts.all_facts()), k=k, max_suppressed=max_suppressed)
        except Exception:
            EXPORTS.labels("failed").inc()
            raise
        self.record(who, EXPORT, details=result.summary(), reason=reason)
        EXPORTS.labels("ok").inc()
        return result


def export_csv(rows: Iterable[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()
