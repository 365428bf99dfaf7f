"""Cases registered through the real intake API reach the anonymised export with sex, age band and
citizenship filled (coded at registration), and nothing of the identity travels."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from typing import Any

import httpx
from pymongo.database import Database

from services.intake.settings import IntakeSettings
from services.reports.domain.anonymise import check_k_anonymous
from services.reports.settings import ReportsSettings
from shared.auth import mint
from tests.support import Proc, wait_for

N = 6  # coded cases: one class of k = 5 or more, so nothing is generalised away or suppressed
N_BARE = 5  # and a second class: cases whose identity gives no codes


def _birth(years: int) -> str:
    """Born on 1 January: ``years`` old on any day of this year."""
    return date(datetime.now(UTC).year - years, 1, 1).isoformat()


def test_cases_registered_through_intake_are_exported_with_coded_quasi_identifiers(
    intake_proc: Proc, reports_proc: Proc, reports_env: dict[str, str], reports_db: Database[Any]
) -> None:
    officer = {
        "Authorization": f"Bearer {mint(IntakeSettings(), sub='officer-it', roles=['intake_officer'], org='org-codes')}"
    }
    names = [f"Zq{uuid.uuid4().hex[:10]}" for _ in range(N)]
    case_ids = []
    for name in names:
        body = {
            "identity": {
                "given_names": name,
                "family_names": "Codes",
                "birth_date": _birth(12),
                "sex": "female",
                "nationality": "VEN",
                "documents": [{"type": "DNI", "number": f"D{name}"}],
            },
            "exploitation_types": ["SexualExploitation"],
            "region": "150101",
            "rescue_date": "2025-01-10",
            "consent_for_services": True,
        }
        r = httpx.post(f"{intake_proc.url}/v1/cases", json=body, headers=officer, timeout=15)
        assert r.status_code == 201, r.text
        case_ids.append(r.json()["case_id"])
    # without a birth date, with sex unknown and a code that names no country: the codes stay unknown
    bare_ids = []
    for _ in range(N_BARE):
        r = httpx.post(
            f"{intake_proc.url}/v1/cases",
            json={"identity": {"sex": "unknown", "nationality": "XX"}, "region": "150101", "rescue_date": "2025-01-10"},
            headers=officer,
            timeout=15,
        )
        assert r.status_code == 201, r.text
        bare_ids.append(r.json()["case_id"])

    def folded() -> list[dict[str, Any]] | None:
        docs = list(reports_db.case_facts.find({"_id": {"$in": [*case_ids, *bare_ids]}}))
        return docs if len(docs) == N + N_BARE else None

    docs = {d["_id"]: d for d in wait_for(folded, timeout=60, what="the registrations in the read model")}
    for case_id in case_ids:
        assert (docs[case_id]["sex"], docs[case_id]["age_band"], docs[case_id]["citizenship"]) == (
            "female",
            "9-17",
            "VE",
        )
    for case_id in bare_ids:
        assert (docs[case_id]["sex"], docs[case_id]["age_band"], docs[case_id]["citizenship"]) == ("unknown",) * 3
    stored = str(docs)
    assert not any(name in stored for name in names) and "birth" not in stored and "Codes" not in stored

    admin = mint(ReportsSettings(), sub="admin-it", roles=["admin"], org=None)
    r = httpx.post(
        f"{reports_proc.url}/v1/reports/exports",
        json={"k": 5, "reason": "IOM CTDC submission test"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert check_k_anonymous(rows, 5) == []
    coded = [row for row in rows if row["citizenship"] == "VE"]
    assert len(coded) == N
    assert {(row["gender"], row["ageBroad"], row["majorityStatus"]) for row in coded} == {("Female", "9--17", "Minor")}
    assert len(rows) == N + N_BARE and r.headers["X-Export-Suppressed-Rows"] == "0"
    assert not any(name in r.text for name in names) and "D" + names[0] not in r.text
