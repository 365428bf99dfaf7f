"""Reference integrator client (the `cli` module): replay an export of court updates into ``POST /v1/court-updates``.

    python -m services.legal.cli updates.csv --url http://127.0.0.1:8002 --token "$TOKEN"
    python -m services.legal.cli export.ndjson --batch-size 200      # token from CENTINELA_LEGAL_TOKEN
    python -m services.legal.cli import cases.csv                     # the existing caseload (services.legal.importer)

Formats (by extension, or ``--format``): ``.csv`` (a header row of field names; empty cells are
omitted), ``.json`` (an array of updates, or ``{"updates": [...]}``), ``.ndjson``/``.jsonl`` (one
update per line). Progress goes to stderr, the summary to stdout.

Exit codes: 0 every update accepted or duplicate; 1 some were rejected (the summary lists them,
fix and re-run: accepted ones come back as duplicates); 2 usage, file or server errors.
Network failures and 5xx answers are retried with backoff: re-sending is safe because each
update carries its ``(source_system, update_id)``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import httpx

DEFAULT_URL = "http://127.0.0.1:8002"


@dataclass
class Item:
    where: str  # "line 12" / "item 3": how the operator finds it in the export
    value: Any
    local_error: str | None = None


@dataclass
class Summary:
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.accepted + self.duplicate + self.rejected


class ClientError(Exception):
    pass


def json_document(text: str, name: str, key: str, error: type[Exception]) -> Any:
    """The JSON document in ``text``, the list unwrapped from ``{key: [...]}``; ``error`` names the line
    where it is not JSON."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{name}: not JSON (line {exc.lineno})") from None
    return doc[key] if isinstance(doc, dict) and isinstance(doc.get(key), list) else doc


def read_items(path: Path, fmt: str | None = None) -> list[Item]:
    fmt = fmt or _format_of(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ClientError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    if fmt == "csv":
        return list(_csv_items(text))
    if fmt == "ndjson":
        return list(_ndjson_items(text))
    doc = json_document(text, str(path), "updates", ClientError)
    if isinstance(doc, dict):
        doc = [doc]
    if not isinstance(doc, list):
        raise ClientError(f'{path}: expected an array of updates or {{"updates": [...]}}')
    return [Item(f"item {i}", v) for i, v in enumerate(doc)]


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".ndjson", ".jsonl"):
        return "ndjson"
    return "json"


def _csv_items(text: str) -> Iterator[Item]:
    reader = csv.DictReader(text.splitlines())
    for row in reader:
        line = f"line {reader.line_num}"
        if None in row:
            yield Item(line, None, "more cells than header columns")
            continue
        yield Item(line, {k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip() != ""})


def _ndjson_items(text: str) -> Iterator[Item]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Item(f"line {number}", json.loads(line))
        except json.JSONDecodeError:
            yield Item(f"line {number}", None, "not JSON")


def post_batch(
    http: httpx.Client, url: str, token: str, values: list[Any], *, retries: int = 5, backoff: float = 0.5
) -> dict[str, Any]:
    delay = backoff
    for attempt in range(retries + 1):
        try:
            response = http.post(
                url.rstrip("/") + "/v1/court-updates",
                json={"updates": values},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.TransportError as exc:
            if attempt == retries:
                raise ClientError(f"cannot reach {url}: {type(exc).__name__}") from None
        else:
            if response.status_code == 200:
                return response.json()
            if response.status_code < 500 or attempt == retries:
                raise ClientError(f"server answered {response.status_code}: {_detail(response)}")
        time.sleep(delay)  # retry pacing for a remote server, not test synchronisation
        delay = min(delay * 2, 10.0)
    raise ClientError("unreachable")  # pragma: no cover


def _detail(response: httpx.Response) -> str:
    try:
        return json.dumps(response.json().get("detail"))
    except (ValueError, AttributeError):
        return response.text[:200]


def replay(
    items: list[Item],
    *,
    url: str,
    token: str,
    batch_size: int = 100,
    progress: TextIO | None = None,
    http: httpx.Client | None = None,
) -> Summary:
    summary = Summary()
    for item in items:
        if item.local_error:
            summary.rejected += 1
            summary.problems.append((item.where, item.local_error))
    sendable = [i for i in items if not i.local_error]
    batches = [sendable[i : i + batch_size] for i in range(0, len(sendable), batch_size)]
    own = http is None
    client = http or httpx.Client(timeout=120)
    try:
        for number, batch in enumerate(batches, start=1):
            body = post_batch(client, url, token, [i.value for i in batch])
            counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
            for result in body.get("results", []):
                status = result.get("status")
                if status in counts:
                    counts[status] += 1
                if status == "rejected":
                    summary.problems.append((batch[result["index"]].where, result.get("reason") or "rejected"))
            summary.accepted += counts["accepted"]
            summary.duplicate += counts["duplicate"]
            summary.rejected += counts["rejected"]
            if progress is not None:
                print(
                    f"batch {number}/{len(batches)}: {len(batch)} sent, {counts['accepted']} accepted, "
                    f"{counts['duplicate']} duplicate, {counts['rejected']} rejected "
                    f"({summary.total}/{len(items)} done)",
                    file=progress,
                    flush=True,
                )
    finally:
        if own:
            client.close()
    return summary


def add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """``--batch-size`` and ``--quiet``, as both the replay client and the caseload import take them."""
    parser.add_argument("--batch-size", type=int, default=100, help="updates per request, 1..500 (default 100)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def usage_error(prog: str, args: argparse.Namespace) -> int | None:
    """Exit status 2, with the reason on stderr, when the token is missing or the batch size out of range."""
    if not args.token:
        print(f"{prog}: error: pass --token or set CENTINELA_LEGAL_TOKEN", file=sys.stderr)
        return 2
    if not 1 <= args.batch_size <= 500:
        print(f"{prog}: error: --batch-size must be between 1 and 500", file=sys.stderr)
        return 2
    return None


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["import"]:
        from services.legal import importer

        return importer.main(
            argv[1:],
            url=os.environ.get("CENTINELA_LEGAL_URL", DEFAULT_URL),
            token=os.environ.get("CENTINELA_LEGAL_TOKEN"),
        )
    parser = argparse.ArgumentParser(prog="python -m services.legal.cli", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="CSV, JSON or NDJSON export of court updates")
    parser.add_argument("--url", default=os.environ.get("CENTINELA_LEGAL_URL", DEFAULT_URL), help="legal service URL")
    parser.add_argument("--token", default=os.environ.get("CENTINELA_LEGAL_TOKEN"), help="court_integrator token")
    parser.add_argument("--format", choices=("csv", "json", "ndjson"), help="override the format guessed from the name")
    add_batch_arguments(parser)
    args = parser.parse_args(argv)
    if (error := usage_error("client", args)) is not None:
        return error
    try:
        items = read_items(args.file, args.format)
        summary = replay(
            items,
            url=args.url,
            token=args.token,
            batch_size=args.batch_size,
            progress=None if args.quiet else sys.stderr,
        )
    except ClientError as exc:
        print(f"client: error: {exc}", file=sys.stderr)
        return 2
    for where, reason in summary.problems:
        print(f"rejected {where}: {reason}")
    print(
        f"summary: {summary.total} updates, {summary.accepted} accepted, "
        f"{summary.duplicate} duplicate, {summary.rejected} rejected"
    )
    return 1 if summary.rejected else 0


if __name__ == "__main__":
    sys.exit(main())
