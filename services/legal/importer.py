"""Bring the existing caseload into monitoring at its real stage (issue 12 item 4).

    python -m services.legal.cli import cases.csv --token "$SUPERVISOR_TOKEN"
    python -m services.legal.cli import cases.json --token "$INTEGRATOR_TOKEN" --source-system sgf-lima

One row per case already in progress:

============================ ======== ==========================================================
column / key                 required meaning
============================ ======== ==========================================================
``case_id``                  yes      centinela's case id (as intake registered it)
``stage``                    yes      the stage the prosecution is in now (CPP 2004 stage names)
``stage_started_at``         yes      when that stage began: ``2025-03-01`` (a Lima date) or an
                                      instant with its offset ``2025-03-01T10:00:00-05:00``
``complexity``               no       ordinary (default), complex, organised_crime;
                                      ``procedure`` is accepted as the same column
``hearings``                 no       known hearings. CSV: ``h-1@2025-04-10T09:00:00-05:00;h-2@...``;
                                      JSON: ``[{"hearing_id": "h-1", "scheduled_for": "..."}]``
============================ ======== ==========================================================

Each row becomes a ``stage_changed`` with ``imported: true`` (so the case may start in any stage,
with no invented history) and one ``hearing_scheduled`` per hearing, posted through the REST API
(``POST /v1/court-updates``) in batches: the same validation, scope check, idempotency, audit and
outbox as every other update, and nothing here needs database credentials.

* **Every row is validated before anything is sent**, and reported as ``row N, field: reason``
  (never the row's content). Bad rows are skipped; good rows go on.
* **Idempotent**: update ids are derived from the case id (and hearing id), so a re-run sends the
  same updates and the server answers ``duplicate`` for those already in.
* **Tokens**: a supervisor's token imports the cases of their organisation (provenance: that
  person; a case intake does not know yet is reported for its row and the rest goes on); an
  integrator's token needs ``--source-system`` (its own).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

import httpx

from services.legal.domain.updates import InvalidUpdate, parse_update

COLUMNS = ("case_id", "stage", "stage_started_at", "complexity", "procedure", "hearings")
REQUIRED = ("case_id", "stage", "stage_started_at")
# update field -> the row column a person fixes
_FIELD_OF = {"case_id": "case_id", "stage": "stage", "occurred_at": "stage_started_at", "complexity": "complexity"}


@dataclass
class Row:
    number: int  # 1-based data row (CSV: the header is not a row)
    updates: list[dict[str, Any]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field, reason)


@dataclass
class ImportSummary:
    rows: int = 0
    imported: int = 0  # rows whose updates were all accepted or duplicate
    already: int = 0  # rows entirely duplicate (a re-run)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (row, field, reason)

    @property
    def ok(self) -> bool:
        return not self.failed


class ImportFailed(Exception):
    pass


def update_id(case_id: str, what: str) -> str:
    """Stable across runs: the same row always yields the same ids (idempotency)."""
    return f"imp-{hashlib.sha256(f'{case_id}|{what}'.encode()).hexdigest()[:24]}"


def read_rows(path: Path, time_zone: str = "America/Lima", now: datetime | None = None) -> list[Row]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if path.suffix.lower() == ".csv":
        raw_rows = list(_csv_rows(text))
    else:
        from services.legal.cli import json_document

        doc = json_document(text, path.name, "cases", ImportFailed)
        if not isinstance(doc, list):
            raise ImportFailed(f'{path.name}: expected an array of cases or {{"cases": [...]}}')
        raw_rows = list(doc)
    tz = ZoneInfo(time_zone)
    now = now or datetime.now(UTC)
    seen: dict[str, int] = {}
    rows = []
    for number, raw in enumerate(raw_rows, start=1):
        row = to_row(number, raw, tz, now)
        case_id = raw.get("case_id") if isinstance(raw, dict) else None
        if not row.errors and isinstance(case_id, str):
            if case_id in seen:
                row.errors.append(("case_id", f"the same case is in row {seen[case_id]}"))
            seen.setdefault(case_id, number)
        rows.append(row)
    return rows


def _csv_rows(text: str) -> Any:
    reader = csv.DictReader(io.StringIO(text))
    unknown = sorted(set(reader.fieldnames or ()) - set(COLUMNS))
    if unknown:
        raise ImportFailed(f"unknown columns {unknown}; known: {', '.join(COLUMNS)}")
    for row in reader:
        if None in row:
            yield {"__error__": "more cells than header columns"}
            continue
        yield {k: v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""}


def to_row(number: int, raw: Any, tz: ZoneInfo, now: datetime) -> Row:
    row = Row(number)
    if not isinstance(raw, dict):
        row.errors.append(("row", "must be an object with case_id, stage and stage_started_at"))
        return row
    if "__error__" in raw:
        row.errors.append(("row", raw["__error__"]))
        return row
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        row.errors.append((unknown[0], "unknown column"))
    for name in REQUIRED:
        if raw.get(name) in (None, ""):
            row.errors.append((name, "missing"))
    if row.errors:
        return row
    case_id = raw["case_id"]
    complexity = raw.get("complexity") or raw.get("procedure")
    if raw.get("complexity") and raw.get("procedure") and raw["complexity"] != raw["procedure"]:
        row.errors.append(("procedure", "differs from complexity (they are the same column)"))
    started = _instant(raw["stage_started_at"], tz)
    if started is None:
        row.errors.append(("stage_started_at", "must be a date (YYYY-MM-DD) or a date-time with its offset"))
        return row
    if started > now:
        row.errors.append(("stage_started_at", "in the future"))
        return row
    stage = {
        "update_id": update_id(str(case_id), "stage"),
        "case_id": case_id,
        "kind": "stage_changed",
        "occurred_at": started.isoformat(),
        "stage": raw["stage"],
        "imported": True,
    }
    if complexity:
        stage["complexity"] = complexity
    row.updates.append(stage)
    hearings = _hearings(raw.get("hearings"), row)
    for index, (hearing_id, scheduled_for) in enumerate(hearings):
        # scheduled after the stage began, so it sorts after the stage it belongs to
        row.updates.append(
            {
                "update_id": update_id(str(case_id), f"hearing|{hearing_id}"),
                "case_id": case_id,
                "kind": "hearing_scheduled",
                "occurred_at": (started + timedelta(seconds=1 + index)).isoformat(),
                "hearing_id": hearing_id,
                "scheduled_for": scheduled_for,
            }
        )
    for item in row.updates:
        try:
            parse_update({"source_system": "import-check", **item})
        except InvalidUpdate as exc:
            for err in exc.errors:
                where = _FIELD_OF.get(err["field"], "hearings")
                row.errors.append((where, err["msg"]))
    if row.errors:
        row.updates = []
    return row


def _instant(value: Any, tz: ZoneInfo) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            # a date is a Lima day: its first instant there (the day is what terms count)
            return datetime.combine(date.fromisoformat(value), dtime(0), tzinfo=tz).astimezone(UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def _hearings(value: Any, row: Row) -> list[tuple[str, str]]:
    if value in (None, ""):
        return []
    out: list[tuple[str, str]] = []
    if isinstance(value, str):
        for part in value.split(";"):
            hearing_id, _, at = part.strip().partition("@")
            if not hearing_id or not at:
                row.errors.append(("hearings", "each hearing is hearing_id@date-time, separated by ';'"))
                return []
            out.append((hearing_id.strip(), at.strip()))
    elif isinstance(value, list):
        for item in value:
            if not isinstance(item, dict) or not item.get("hearing_id") or not item.get("scheduled_for"):
                row.errors.append(("hearings", "each hearing needs hearing_id and scheduled_for"))
                return []
            out.append((str(item["hearing_id"]), str(item["scheduled_for"])))
    else:
        row.errors.append(("hearings", "must be a list of hearings"))
    if len({h for h, _ in out}) != len(out):
        row.errors.append(("hearings", "the same hearing_id twice"))
        return []
    return out


# -- sending ----------------------------------------------------------------------------------------
def send(
    rows: list[Row],
    *,
    url: str,
    token: str,
    source_system: str | None = None,
    batch_size: int = 100,
    progress: TextIO | None = None,
    http: httpx.Client | None = None,
    timeout: float = 300.0,
) -> ImportSummary:
    """Post the good rows' updates in batches; never splits a row over two batches."""
    summary = ImportSummary(rows=len(rows))
    for row in rows:
        for name, reason in row.errors:
            summary.failed.append((row.number, name, reason))
    good = [r for r in rows if not r.errors]
    batches: list[list[Row]] = []
    for row in good:
        if not batches or sum(len(r.updates) for r in batches[-1]) + len(row.updates) > batch_size:
            batches.append([])
        batches[-1].append(row)
    own = http is None
    client = http or httpx.Client(timeout=timeout)
    done = 0
    started = time.monotonic()
    try:
        for batch in batches:
            _send_batch(client, url, token, source_system, batch, summary)
            done += len(batch)
            if progress is not None:
                rate = done / max(time.monotonic() - started, 1e-6)
                print(
                    f"import: {done}/{len(good)} valid rows sent ({rate:.0f} rows/s), "
                    f"{len(summary.failed)} problems so far",
                    file=progress,
                    flush=True,
                )
    finally:
        if own:
            client.close()
    summary.failed.sort()
    return summary


def _send_batch(
    client: httpx.Client, url: str, token: str, source: str | None, batch: list[Row], summary: ImportSummary
) -> None:
    pending = list(batch)
    while pending:
        items = [({**u, "source_system": source} if source else u) for r in pending for u in r.updates]
        owners = [r for r in pending for _ in r.updates]
        response = _post(client, url, token, items)
        if response.status_code == 404:
            # a person's token: this case is unknown to centinela or outside their organisation
            index = _failed_index(response)
            if index is None:
                raise ImportFailed(f"server answered 404: {_detail(response)}")
            row = owners[index]
            summary.failed.append((row.number, "case_id", "unknown to centinela or outside your organisation"))
            pending.remove(row)
            continue
        if response.status_code != 200:
            raise ImportFailed(f"server answered {response.status_code}: {_detail(response)}")
        statuses: dict[int, list[str]] = {}
        for result in response.json().get("results", []):
            row = owners[result["index"]]
            statuses.setdefault(row.number, []).append(result["status"])
            if result["status"] == "rejected":
                summary.failed.append((row.number, _reason_field(result.get("reason")), result.get("reason") or ""))
        for row in pending:
            got = statuses.get(row.number, [])
            if got and all(s in ("accepted", "duplicate") for s in got):
                summary.imported += 1
                if all(s == "duplicate" for s in got):
                    summary.already += 1
        return


def _post(client: httpx.Client, url: str, token: str, items: list[dict[str, Any]]) -> httpx.Response:
    delay = 0.5
    for attempt in range(6):
        try:
            response = client.post(
                url.rstrip("/") + "/v1/court-updates",
                json={"updates": items},
                headers={"Authorization": f"Bearer {token}", "X-Request-Id": f"import-{time.time_ns()}"},
            )
        except httpx.TransportError as exc:
            if attempt == 5:
                raise ImportFailed(f"cannot reach {url}: {type(exc).__name__}") from None
        else:
            if response.status_code < 500 or attempt == 5:
                return response
        time.sleep(delay)  # retry pacing for a remote server; re-sending is safe (idempotent ids)
        delay = min(delay * 2, 10.0)
    raise ImportFailed("unreachable")  # pragma: no cover


def _failed_index(response: httpx.Response) -> int | None:
    detail = (
        str(response.json().get("detail", ""))
        if response.headers.get("content-type", "").startswith("application/json")
        else ""
    )
    if detail.startswith("updates."):
        try:
            return int(detail.split(".")[1])
        except (IndexError, ValueError):
            return None
    return None


def _reason_field(reason: str | None) -> str:
    name = (reason or "").split(":", 1)[0]
    return _FIELD_OF.get(name, name or "row")


def _detail(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json().get("detail"))
    except (ValueError, AttributeError):
        return response.text[:200]


def main(argv: list[str], *, url: str, token: str | None) -> int:
    import argparse

    from services.legal.cli import add_batch_arguments, usage_error

    parser = argparse.ArgumentParser(
        prog="python -m services.legal.cli import", description="import cases already in progress"
    )
    parser.add_argument("file", type=Path, help="CSV or JSON file of cases (see the module doc for the columns)")
    parser.add_argument("--url", default=url, help="legal service URL")
    parser.add_argument("--token", default=token, help="a supervisor's token, or an integrator's with --source-system")
    parser.add_argument("--source-system", help="integrator tokens: the token's own source_system")
    parser.add_argument("--time-zone", default="America/Lima", help="zone of dates without a time (default Lima)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one batch (default 300)")
    add_batch_arguments(parser)
    args = parser.parse_args(argv)
    if (error := usage_error("import", args)) is not None:
        return error
    try:
        rows = read_rows(args.file, args.time_zone)
        invalid = sum(1 for r in rows if r.errors)
        if not args.quiet:
            print(f"import: {len(rows)} rows read, {invalid} invalid", file=sys.stderr, flush=True)
        summary = send(
            rows,
            url=args.url,
            token=args.token,
            source_system=args.source_system,
            batch_size=args.batch_size,
            progress=None if args.quiet else sys.stderr,
            timeout=args.timeout,
        )
    except ImportFailed as exc:
        print(f"import: error: {exc}", file=sys.stderr)
        return 2
    for number, name, reason in summary.failed:
        print(f"row {number}, {name}: {reason}")
    print(
        f"summary: {summary.rows} rows, {summary.imported} imported ({summary.already} already there), "
        f"{len({n for n, _, _ in summary.failed})} with errors"
    )
    return 0 if summary.ok else 1
