"""The anonymised export over 10,000 generated cases in the real database, through the command."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from services.reports.domain.anonymise import COLUMNS, check_k_anonymous
from services.reports.domain.facts import CaseFacts
from services.reports.domain.figures import contribution, figures, merge
from services.reports.service.projector import Materialiser
from services.reports.service.reports import ReportQuery, Reports
from services.reports.store.readmodel import CellRepository, FactsRepository, ensure_indexes
from tests.support import ROOT
from tests.unit.reports.helpers import synthetic_population

N = 10_000


@pytest.fixture(scope="module")
def population() -> list[CaseFacts]:
    return synthetic_population(N, seed=2026)


@pytest.fixture(scope="module")
def loaded(
    stack_env: dict[str, str], db_name: Callable[[str], str], population: list[CaseFacts]
) -> Iterator[tuple[dict[str, str], Database[Any]]]:
    env = {**stack_env, "CENTINELA_MONGO_DB": db_name("reports_export")}
    client: MongoClient[Any] = MongoClient(env["CENTINELA_MONGO_URI"], tz_aware=True)
    db = client[env["CENTINELA_MONGO_DB"]]
    client.drop_database(db.name)
    ensure_indexes(db)
    FactsRepository(db).insert_many(population)
    yield env, db
    client.drop_database(db.name)
    client.close()


def test_rebuilt_cells_count_every_case_exactly_once(
    loaded: tuple[dict[str, str], Database[Any]], population: list[CaseFacts]
) -> None:
    _env, db = loaded
    cells = Materialiser(db, 1.0, 2000, 10.0).rebuild_all()
    assert cells == db.cells.count_documents({}) > 0
    reports = Reports(CellRepository(db), FactsRepository(db), None, 5)
    expected: dict[str, Any] = {}
    for f in population:
        merge(expected, contribution(f))
    assert reports.justice_access(ReportQuery())["groups"][0]["figures"] == figures(expected, 5)
    org2 = reports.justice_access(ReportQuery(org="org-2", period_from="2024-01", period_to="2024-12"))
    assert org2["groups"][0]["figures"]["cases"] == sum(
        1 for f in population if f.org == "org-2" and (f.registered_at or "")[:4] == "2024"
    )


@pytest.mark.parametrize("k", [5, 11])
def test_command_writes_a_k_anonymous_export_and_audits_it(
    loaded: tuple[dict[str, str], Database[Any]], tmp_path: Path, k: int
) -> None:
    env, db = loaded
    out = tmp_path / "export.csv"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.reports",
            "export",
            "--k",
            str(k),
            "--out",
            str(out),
            "--actor",
            "it-admin",
            "--reason",
            "CTDC test submission",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows and list(rows[0]) == list(COLUMNS)
    assert check_k_anonymous(rows, k) == []
    assert len(rows) >= 0.95 * N
    text = out.read_text(encoding="utf-8")
    assert "cs_synthetic" not in text and "org-" not in text
    # the shared trail (shared.audit): this database, as it is not named <x>_reports and no
    # CENTINELA_AUDIT_DB is set; the command line has no request, so no route or request id
    record = db.audit.find_one({"actor": "it-admin", "details.k": k})
    assert record is not None
    assert (record["service"], record["action"], record["outcome"], record["reason"]) == (
        "reports",
        "reports.export.anonymised",
        "ok",
        "CTDC test submission",
    )
    assert (record["role"], record["roles"], record["route"], record["request_id"]) == ("admin", ["admin"], None, None)
    assert record["details"]["output_rows"] == len(rows)
    assert record["details"]["input_rows"] == N
