"""/metrics aggregates every uvicorn worker when PROMETHEUS_MULTIPROC_DIR is set."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.support import Proc, free_port, wait_for

pytestmark = pytest.mark.integration


def _healthz_count(text: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("centinela_legal_http_requests_total{") and 'route="/healthz"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_metrics_sum_over_two_workers(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    port = free_port()
    prom_dir = tmp_path / "prom"
    prom_dir.mkdir()
    env = {
        **stack_env,
        "CENTINELA_MONGO_DB": db_name("legal_workers"),
        "CENTINELA_LEGAL_CONSUMERS_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
    }
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "services.legal.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
        "--no-access-log",
    ]
    proc = Proc("legal-two-workers", args, env, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready("/healthz", timeout=90)
    # both workers are up once each has written its own metrics file
    wait_for(
        lambda: len({re.sub(r"\D", "", p.name) for p in prom_dir.glob("*.db")}) >= 2,
        timeout=60,
        what="two workers' metric files",
    )
    n = 40
    with httpx.Client(timeout=10) as client:  # new connections spread over the workers
        for _ in range(n):
            client.get(proc.url + "/healthz", headers={"Connection": "close"})
    seen = _healthz_count(httpx.get(proc.url + "/metrics", timeout=10).text)
    # the readiness polls before the loop counted too; every request is counted exactly once
    assert seen >= n
    again = _healthz_count(httpx.get(proc.url + "/metrics", timeout=10).text)
    assert again == seen  # /metrics itself is not a /healthz request: a second scrape, any worker, agrees
    pids = {m.group(1) for p in prom_dir.glob("*.db") if (m := re.search(r"_(\d+)\.db$", p.name))}
    assert len(pids) >= 2, sorted(p.name for p in prom_dir.glob("*"))
