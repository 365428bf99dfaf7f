"""`make bench`: one table of every path against its goal, with the baselines of the same run.

    python -m tests.bench.run [--quick] [--only raw,services,processor] [--size open_cases=100000 ...]
                              [--out bench-results] [--publish]

Runs on the local broker and database (deploy/local/test.sh --bench starts them if missing) in a
namespace of its own: topic prefix ``bench<run>*.`` and databases ``bench_<run>_*``, all new, so every
run starts from empty storage and runs are comparable; they are removed at the end. The database-CPU
row runs a private database server (so other clients of the shared one are not counted).

Prints progress, then the table; writes ``<out>/<UTC timestamp>/bench.{json,png}`` and copies them to
``<out>/latest.{json,png}``; ``--publish`` also copies them to ``docs/benchmarks/`` (what
docs/benchmarks.md shows). Sizes: ``--quick`` (a few minutes), the full default (~30 minutes on the
2-core development machine), each overridable with ``--size key=value`` or CENTINELA_BENCH_SIZES
(``key=value,key=value``). Numbers are measurements, not assertions: the exit status is 0 unless the
run itself broke.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tests.bench import processor_load, raw, report, services
from tests.bench.common import Bench

ROOT = Path(__file__).resolve().parents[2]

FULL: dict[str, int] = {
    "raw_msgs": 100_000,  # messages per raw broker client test
    "raw_docs": 2_000,  # single-document inserts (batches: 10x this)
    "docs_small": 1_000,  # stored documents for the write + outbox levels
    "docs_mid": 100_000,
    "docs_large": 1_000_000,
    "outbox_writes": 2_000,  # writes measured at each level (at most write_seconds)
    "write_seconds": 20,  # single-client write measurements stop after this long
    "load_budget": 240,  # seconds for loading a level: a level not reached is measured where loading stopped
    "intake_seconds": 15,  # per client count
    "legal_grown": 100_000,  # stored updates for the "after data grew" row
    "legal_batches": 3,
    "alerts_backlog": 5_000,
    "alerts_timeout": 300,
    "reads": 200,
    "open_cases": 100_000,  # per processor worker
    "probes": 200,  # deadlines measured
    "probe_spread": 30,  # seconds over which they come due
    "backlog_timeout": 900,
    "flags": 40,
    "idle_seconds": 20,
    "idle_cases": 200,
}
QUICK: dict[str, int] = {
    **FULL,
    "raw_msgs": 20_000,
    "raw_docs": 500,
    "docs_mid": 10_000,
    "docs_large": 30_000,
    "outbox_writes": 500,
    "write_seconds": 5,
    "intake_seconds": 4,
    "legal_grown": 5_000,
    "legal_batches": 2,
    "alerts_backlog": 1_000,
    "alerts_timeout": 120,
    "reads": 50,
    "open_cases": 5_000,
    "probes": 40,
    "probe_spread": 10,
    "backlog_timeout": 300,
    "flags": 10,
    "idle_seconds": 20,
    "idle_cases": 20,
}
SECTIONS = ("raw", "services", "processor")


def parse_sizes(items: list[str], sizes: dict[str, int]) -> dict[str, int]:
    out = dict(sizes)
    for item in items:
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in out:
            raise SystemExit(f"unknown size {key!r}; known: {', '.join(sorted(out))}")
        out[key] = int(value.replace("_", ""))
    return out


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a few minutes")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"sections to run, of {','.join(SECTIONS)}")
    parser.add_argument("--size", action="append", default=[], metavar="KEY=VALUE", help="override one size")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results", help="results folder")
    parser.add_argument("--publish", action="store_true", help="also copy the chart and JSON to docs/benchmarks/")
    args = parser.parse_args(argv)
    env_sizes = [s for s in os.environ.get("CENTINELA_BENCH_SIZES", "").split(",") if s.strip()]
    sizes = parse_sizes(env_sizes + args.size, QUICK if args.quick else FULL)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")

    started = datetime.now(UTC)
    bench = Bench(quick=args.quick, sizes=sizes)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{bench.run_id}-"))
    bench.log_dir = tmp
    print(
        f"centinela benchmark {'(quick) ' if args.quick else ''}run {bench.run_id}, {os.cpu_count()} cores, "
        f"load {load()}, {started.isoformat(timespec='seconds')}; process logs in {tmp}",
        flush=True,
    )
    base: dict[str, float] = {}
    load_before = load()
    try:
        if "raw" in only:
            raw.run(bench, base)
        if "raw" not in only:  # the baselines the other rows are judged against, from this run too
            if "processor" in only:
                raw.broker(bench, base)
            if "services" in only:
                raw.database(bench, base)
        if "processor" in only:
            processor_load.run(bench, base, tmp)
        if "services" in only:
            services.run(bench, base, tmp)
        if "raw" in only:  # last: loading a million documents weighs on the shared database for a while
            raw.outbox_levels(bench, base)
    except KeyboardInterrupt:
        bench.progress("interrupted: the table below holds what was measured")
    finally:
        bench.progress("stopping processes, dropping this run's databases and topics")
        bench.cleanup()

    finished = datetime.now(UTC)
    title = (
        f"centinela make bench{' --quick' if args.quick else ''}, {finished:%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} cores, load {load_before} -> {load()}"
    )
    print()
    print(title)
    for line in report.table_lines(bench.rows):
        print(line)
    meta = {
        "run": bench.run_id,
        "quick": args.quick,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "load_before": load_before,
        "load_after": load(),
        "sizes": sizes,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    written = report.write(bench.rows, meta, args.out / started.strftime("%Y%m%dT%H%M%SZ"), args.out, title)
    print("\nwritten: " + ", ".join(str(p) for p in written.values()) + f" (and {args.out}/latest.*)")
    if args.publish:
        docs = ROOT / "docs" / "benchmarks"
        docs.mkdir(exist_ok=True)
        for kind, path in written.items():
            shutil.copyfile(path, docs / f"latest.{kind}")
        print(f"published to {docs}/latest.*")
    if all(r.value is not None for r in bench.rows) and not os.environ.get("CENTINELA_BENCH_KEEP_LOGS"):
        shutil.rmtree(tmp, ignore_errors=True)
    else:  # something was not measured: the process logs say why
        print(f"process logs kept in {tmp}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
