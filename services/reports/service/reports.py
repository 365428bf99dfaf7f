"""Justice-access figures from the cells, the CSV of them, and the audited anonymised export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.reports.domain.anonymise import COLUMNS, ExportResult, anonymise, htcds_row
from services.reports.domain.figures import DIMENSIONS, figures, flatten, merge
from services.reports.store.readmodel import AuditLog, CellRepository, FactsRepository
from shared.metrics import counter

EXPORTS = counter("centinela_reports_exports_total", "anonymised exports written", ("outcome",))


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
    def __init__(self, cells: CellRepository, facts: FactsRepository, audit: AuditLog, k: int) -> None:
        self.cells = cells
        self.facts = facts
        self.audit = audit
        self.k = k

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

    def justice_access_csv(self, q: ReportQuery) -> str:
        report = self.justice_access(q)
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
        actor: str,
        role: str,
        roles: list[str],
        org: str | None,
        request_id: str | None,
        reason: str | None,
    ) -> ExportResult:
        """Build the anonymised export; the audit record is written before the rows leave."""
        try:
            result = anonymise((htcds_row(f) for f in self.facts.all_facts()), k=k, max_suppressed=max_suppressed)
        except Exception:
            EXPORTS.labels("failed").inc()
            raise
        self.audit.record(
            actor=actor,
            role=role,
            roles=roles,
            org=org,
            action="export.anonymised",
            outcome="ok",
            request_id=request_id,
            reason=reason,
            details=result.summary(),
        )
        EXPORTS.labels("ok").inc()
        return result


def export_csv(rows: Iterable[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buf.getvalue()
