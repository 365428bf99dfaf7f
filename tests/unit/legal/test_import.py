"""Issue 12 item 4: the caseload import validates every row and reports by row and field, never content."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.legal import importer
from services.legal.cli import main as cli_main

NOW = datetime(2026, 1, 10, tzinfo=UTC)
HEADER = "case_id,stage,stage_started_at,complexity,hearings\n"


def rows(tmp_path: Path, body: str, name: str = "cases.csv") -> list[importer.Row]:
    path = tmp_path / name
    path.write_text(body)
    return importer.read_rows(path, now=NOW)


def test_a_good_row_becomes_an_imported_stage_and_its_hearings(tmp_path: Path):
    (row,) = rows(
        tmp_path, HEADER + "c-1,trial,2025-03-01,complex,h-1@2025-04-10T09:00:00-05:00;h-2@2025-05-02T09:00:00-05:00\n"
    )
    assert row.errors == []
    stage, h1, h2 = row.updates
    assert stage["kind"] == "stage_changed" and stage["imported"] is True and stage["complexity"] == "complex"
    assert stage["occurred_at"] == "2025-03-01T05:00:00+00:00"  # a date is the Lima day
    assert [h1["hearing_id"], h2["hearing_id"]] == ["h-1", "h-2"] and h1["occurred_at"] > stage["occurred_at"]
    # the same row always yields the same update ids (a re-run is idempotent)
    (again,) = rows(
        tmp_path, HEADER + "c-1,trial,2025-03-01,complex,h-1@2025-04-10T09:00:00-05:00;h-2@2025-05-02T09:00:00-05:00\n"
    )
    assert [u["update_id"] for u in again.updates] == [u["update_id"] for u in row.updates]
    assert len({u["update_id"] for u in row.updates}) == 3


@pytest.mark.parametrize(
    ("line", "field", "reason"),
    [
        (",trial,2025-03-01,,", "case_id", "missing"),
        ("Rosa Quispe 12345678,trial,2025-03-01,,", "case_id", "must be an identifier"),
        ("c-2,juicio,2025-03-01,,", "stage", "must be one of"),
        ("c-2,trial,01/03/2025,,", "stage_started_at", "must be a date"),
        ("c-2,trial,2025-03-01T10:00:00,,", "stage_started_at", "must be a date"),
        ("c-2,trial,2027-03-01,,", "stage_started_at", "in the future"),
        ("c-2,trial,2025-03-01,very_complex,", "complexity", "must be one of"),
        ("c-2,trial,2025-03-01,,h-1", "hearings", "hearing_id@date-time"),
        ("c-2,trial,2025-03-01,,h-1@tomorrow", "hearings", ""),
        ("c-2,trial,2025-03-01,,h-1@2025-04-10T09:00:00-05:00;h-1@2025-04-11T09:00:00-05:00", "hearings", "twice"),
        ("c-2,trial,2025-03-01,,,extra", "row", "more cells"),
    ],
)
def test_bad_rows_name_row_and_field_never_the_content(tmp_path: Path, line: str, field: str, reason: str):
    good = "c-1,trial,2025-03-01,,\n"
    result = rows(tmp_path, HEADER + good + line + "\n")
    assert result[0].errors == [] and result[0].updates
    bad = result[1]
    assert bad.number == 2 and bad.updates == []
    assert bad.errors and bad.errors[0][0] == field and reason in bad.errors[0][1]
    for _, message in bad.errors:
        assert "Rosa" not in message and "12345678" not in message and "tomorrow" not in message


def test_the_same_case_twice_and_json_rows(tmp_path: Path):
    result = rows(tmp_path, HEADER + "c-1,trial,2025-03-01,,\nc-1,appeal,2025-03-01,,\n")
    assert result[1].errors == [("case_id", "the same case is in row 1")]
    doc = {
        "cases": [
            {
                "case_id": "c-9",
                "stage": "appeal",
                "stage_started_at": "2025-01-02T10:00:00-05:00",
                "procedure": "complex",
                "hearings": [{"hearing_id": "h-9", "scheduled_for": "2025-02-01T09:00:00-05:00"}],
            },
            {"case_id": "c-10", "stage": "appeal", "nickname": "x"},
            "not an object",
        ]
    }
    parsed = rows(tmp_path, json.dumps(doc), "cases.json")
    assert parsed[0].errors == [] and parsed[0].updates[0]["complexity"] == "complex" and len(parsed[0].updates) == 2
    assert ("nickname", "unknown column") in parsed[1].errors and ("stage_started_at", "missing") in parsed[1].errors
    assert parsed[2].errors[0][0] == "row"


def test_unknown_csv_columns_stop_before_anything_is_sent(tmp_path: Path):
    with pytest.raises(importer.ImportFailed, match=r"unknown columns \['child_name'\]"):
        rows(tmp_path, "case_id,stage,stage_started_at,child_name\n")


def fake_server(unknown_case: str | None = None) -> tuple[httpx.Client, list[list[dict[str, Any]]]]:
    sent: list[list[dict[str, Any]]] = []
    seen: set[str] = set()

    def handle(request: httpx.Request) -> httpx.Response:
        items = json.loads(request.content)["updates"]
        for i, item in enumerate(items):
            if item["case_id"] == unknown_case:
                return httpx.Response(404, json={"detail": f"updates.{i}.case_id: no legal timeline for this case"})
        sent.append(items)
        results = []
        for i, item in enumerate(items):
            status = "duplicate" if item["update_id"] in seen else "accepted"
            if item.get("stage") == "final":
                status = "rejected"
            seen.add(item["update_id"])
            reason = "stage: the case is final; it cannot move to final" if status == "rejected" else None
            results.append({"index": i, "status": status, "reason": reason})
        return httpx.Response(200, json={"results": results})

    return httpx.Client(transport=httpx.MockTransport(handle)), sent


def test_send_batches_rows_whole_reports_rejections_and_is_idempotent(tmp_path: Path):
    body = HEADER + "".join(f"c-{n},trial,2025-03-01,,h-{n}@2025-04-10T09:00:00-05:00\n" for n in range(7))
    body += "c-final,final,2025-03-01,,\nc-unknown,trial,2025-03-01,,\nc-bad,nope,2025-03-01,,\n"
    parsed = rows(tmp_path, body)
    client, sent = fake_server(unknown_case="c-unknown")
    summary = importer.send(parsed, url="http://legal", token="t", batch_size=4, http=client)
    assert all(len(batch) <= 4 for batch in sent) and all(len(b) % 2 == 0 for b in sent[:-1])  # rows never split
    assert summary.rows == 10 and summary.imported == 7 and summary.already == 0
    assert summary.failed == [
        (8, "stage", "stage: the case is final; it cannot move to final"),
        (9, "case_id", "unknown to centinela or outside your organisation"),
        (
            10,
            "stage",
            "must be one of 'complaint_filed', 'preliminary_investigation', 'preparatory_investigation', "
            "'intermediate_stage', 'trial', 'verdict', 'appeal' or 'final'",
        ),
    ]
    again = importer.send(parsed, url="http://legal", token="t", batch_size=4, http=client)
    assert again.imported == 7 and again.already == 7


def test_the_cli_routes_import_and_exits_1_on_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = tmp_path / "cases.csv"
    path.write_text(HEADER + "c-1,nope,2025-03-01,,\n")
    assert cli_main(["import", str(path), "--token", "t", "--url", "http://127.0.0.1:9", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "row 1, stage: must be one of" in out and "summary: 1 rows, 0 imported" in out
    assert cli_main(["import", str(tmp_path / "missing.csv"), "--token", "t"]) == 2
