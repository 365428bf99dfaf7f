"""Command line of the reports service.

    python -m services.reports export --k 5 --out export.csv --reason "CTDC 2026 submission" [--actor ID]
    python -m services.reports fold         fold every changed case into the cells now
    python -m services.reports rebuild      recompute every cell from every case (after a restore)

The export reads the read model in MongoDB (``CENTINELA_MONGO_URI``, database ``centinela_reports``),
writes an HTCDS 2.0-shaped CSV in which every quasi-identifier combination appears at least k times,
and records the export on the shared audit trail (``shared.audit``, service ``reports``; actor: ``--actor``
or the OS user).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path

from services.reports.service.projector import Materialiser
from services.reports.service.reports import Reports, Who, export_csv
from services.reports.settings import ReportsSettings
from services.reports.store.readmodel import CellRepository, FactsRepository, ensure_indexes
from shared.audit import open_trail
from shared.mongo import connect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.reports")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export", help="write the anonymised export (audited)")
    ex.add_argument("--k", type=int, default=None, help="minimum combination size (default CENTINELA_REPORTS_EXPORT_K)")
    ex.add_argument("--out", required=True, help="CSV file to write ('-' for standard output)")
    ex.add_argument("--reason", default="command-line export", help="why and for whom (audit trail)")
    ex.add_argument("--actor", default=None, help="who runs it (audit trail; default: the OS user)")
    ex.add_argument("--max-suppressed", type=float, default=None, help="share of rows that may be dropped")
    sub.add_parser("fold", help="fold every changed case into the aggregate cells")
    sub.add_parser("rebuild", help="recompute every aggregate cell from every case (after a restore)")
    args = parser.parse_args(argv)
    settings = ReportsSettings()
    if args.cmd == "export" and args.k is not None and args.k < 2:
        parser.error("--k must be at least 2")
    client = connect(settings)
    try:
        db = client[settings.database]
        ensure_indexes(db)
        facts = FactsRepository(db)
        materialiser = Materialiser(db, 1.0, settings.reports_materialise_batch, settings.reports_lease_seconds)
        if args.cmd == "fold":
            print(f"reports: {materialiser.drain()} changed case(s) folded")
            return 0
        if args.cmd == "rebuild":
            print(f"reports: {materialiser.rebuild_all()} cell(s) rebuilt")
            return 0
        trail = open_trail(settings, client, "reports")
        reports = Reports(CellRepository(db), facts, trail, settings.reports_min_cell)
        result = reports.export(
            k=args.k or settings.reports_export_k,
            max_suppressed=settings.reports_export_max_suppressed
            if args.max_suppressed is None
            else args.max_suppressed,
            who=Who(args.actor or getpass.getuser(), "admin"),
            reason=args.reason,
        )
        text = export_csv(result.rows)
        if args.out == "-":
            sys.stdout.write(text)
        else:
            Path(args.out).write_text(text, encoding="utf-8")
        print(json.dumps(result.summary()), file=sys.stderr)
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
