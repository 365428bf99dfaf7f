"""Issue 12 item 4: the caseload import, through the real legal API, on a file of 1,000 rows with bad ones."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from services.legal import importer
from services.legal.domain.stages import PROCESS_STAGES
from tests.integration.legal.conftest import new_id, readable_timeline, register_case
from tests.support import wait_for

# ~1,000 cases through REST on the shared test database takes minutes on a loaded machine
pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROWS = 1000


def write_caseload(path: Path, prefix: str) -> tuple[list[str], dict[int, str]]:
    """A caseload with good rows and, every 40th row, a bad one; returns the good case ids and bad rows' fields."""
    rng = random.Random(12)
    today = datetime.now(UTC).date()
    good: list[str] = []
    bad: dict[int, str] = {}
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["case_id", "stage", "stage_started_at", "complexity", "hearings"])
        for n in range(1, ROWS + 1):
            case_id = f"{prefix}-{n:05d}"
            stage: str = rng.choice([s for s in PROCESS_STAGES if s != "final"])
            started = (today - timedelta(days=rng.randint(5, 400))).isoformat()
            complexity = rng.choice(["", "ordinary", "complex", "organised_crime"])
            hearing = ""
            if stage in ("intermediate_stage", "trial"):
                hearing = f"h-{n}@{(datetime.now(UTC) + timedelta(days=rng.randint(1, 60))).isoformat()}"
            if n % 40 == 0:
                kind = (n // 40) % 3
                if kind == 0:
                    stage, bad[n] = "juicio_oral", "stage"
                elif kind == 1:
                    started, bad[n] = "31/12/2024", "stage_started_at"
                else:
                    hearing, bad[n] = "h-x@not-a-date", "hearings"
            else:
                good.append(case_id)
            writer.writerow([case_id, stage, started, complexity, hearing])
    return good, bad


def run_import(legal, headers: dict, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    token = headers["Authorization"].removeprefix("Bearer ")
    return subprocess.run(
        [sys.executable, "-m", "services.legal.cli", "import", str(path), "--url", legal.url, "--token", token, *extra],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_1000_row_caseload_with_bad_rows_imports_once(legal, tokens, producer, tmp_path):
    prefix = new_id("imp")
    path = tmp_path / "caseload.csv"
    good, bad = write_caseload(path, prefix)
    headers = tokens.integrator("sgf-import")

    first = run_import(legal, headers, path, "--source-system", "sgf-import")
    assert first.returncode == 1, first.stderr  # some rows were bad
    reported = [line for line in first.stdout.splitlines() if line.startswith("row ")]
    assert sorted(int(line.split(",")[0].removeprefix("row ")) for line in reported) == sorted(bad)
    for line in reported:
        number = int(line.split(",")[0].removeprefix("row "))
        assert line.startswith(f"row {number}, {bad[number]}: ")
        assert "juicio_oral" not in line and "31/12/2024" not in line and "not-a-date" not in line  # never content
    # (a batch the client timed out on and re-sent comes back as duplicates: counted as imported too)
    assert f"summary: {ROWS} rows, {len(good)} imported (" in first.stdout
    assert f"{len(bad)} with errors" in first.stdout
    assert "valid rows sent" in first.stderr  # progress

    # a re-run (here of the first 120 rows, to keep the suite short) sends the same ids: all duplicates
    head = tmp_path / "head.csv"
    head.write_text("".join(path.read_text().splitlines(keepends=True)[:121]))
    again = run_import(legal, headers, head, "--source-system", "sgf-import", "--quiet")
    again_good = 120 - sum(1 for n in bad if n <= 120)
    assert f"summary: 120 rows, {again_good} imported ({again_good} already there)" in again.stdout

    # the cases entered monitoring at their real stage, marked imported, with their statutory deadline
    rows = {r.number: r for r in importer.read_rows(path)}
    org = new_id("org")
    supervisor = tokens("supervisor", sub="sup-imp-1", org=org)
    sample = good[:: len(good) // 5]
    for case_id in sample:
        register_case(producer, case_id, org, None)
    for case_id in sample:
        expected = rows[int(case_id.rsplit("-", 1)[1])].updates[0]
        t = readable_timeline(legal, case_id, supervisor)
        assert t["stage"] == expected["stage"] and t["stage_history"][0]["imported"] is True
        assert t["stage_started_at"].startswith(expected["occurred_at"][:19])
        assert t["entries"][0]["recorded_by"]["source_system"] == "sgf-import"


def test_supervisor_imports_their_orgs_cases_and_unknown_ones_are_reported(legal, tokens, producer, tmp_path):
    org = new_id("org")
    known, other = new_id("c"), new_id("c")
    register_case(producer, known, org, "adv-imp")
    supervisor = tokens("supervisor", sub="sup-imp", org=org)
    path = tmp_path / "org.csv"
    started = (datetime.now(UTC) - timedelta(days=30)).date().isoformat()
    hearing = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    path.write_text(
        "case_id,stage,stage_started_at,complexity,hearings\n"
        f"{other},trial,{started},,\n"
        f"{known},preparatory_investigation,{started},complex,h-1@{hearing}\n"
    )

    _wait_access(legal, known, supervisor)
    result = run_import(legal, supervisor, path)
    assert result.returncode == 1, result.stderr
    assert "row 1, case_id: unknown to centinela or outside your organisation" in result.stdout
    assert "summary: 2 rows, 1 imported" in result.stdout
    t = readable_timeline(legal, known, supervisor, until=lambda t: t["stage"] == "preparatory_investigation")
    assert t["stage_history"][0]["imported"] is True and t["complexity"] == "complex"
    assert t["deadline_at"] is not None  # the complex term of the test deadlines file (8 months)
    assert t["entries"][0]["recorded_by"] == {
        "type": "person",
        "sub": "sup-imp",
        "role": "supervisor",
        "source_system": None,
    }
    assert [h["hearing_id"] for h in t["hearings"]] == ["h-1"]


def _access(legal, case_id: str, headers: dict) -> bool:
    """The case-events consumer has told the legal service whose case it is (an import needs it)."""
    probe = {"case_id": case_id, "update_id": new_id("probe"), "kind": "victim_notified"}
    body = {"updates": [{**probe, "occurred_at": "2100-01-01T00:00:00Z"}]}
    r = httpx.post(legal.url + "/v1/court-updates", json=body, headers=headers, timeout=30)
    return r.status_code == 200  # the item itself is rejected (in the future) but the scope check passed


def _wait_access(legal, case_id: str, headers: dict) -> None:
    wait_for(lambda: _access(legal, case_id, headers) or None, timeout=60, what=f"access to {case_id}")
