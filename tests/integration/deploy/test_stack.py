"""The local stack script end to end, on its own run directory and ports.

`make up` must print its summary only once every process answers ``/readyz`` 200 (the processor
answers ``/metrics`` ~30 s before it is ready), and `make restart SERVICE=legal` must replace
exactly that process. The stack under test uses the test session's Kafka broker (as an external
broker, under a private topic prefix) and starts its own SecantusDB on a free port, so neither the
developer's `make up` nor other tests are touched; everything it starts is stopped by PID.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT, base_env, free_port, new_prefix, wait_for

pytestmark = pytest.mark.integration

STACK = ROOT / "deploy" / "local" / "stack.sh"
SERVICES = ["intake", "legal", "alerts", "reports", "processor"] + (
    ["console"] if (ROOT / "services" / "console" / "main.py").is_file() else []
)
PORT_VARS = {
    "intake": "CENTINELA_INTAKE_PORT",
    "legal": "CENTINELA_LEGAL_PORT",
    "alerts": "CENTINELA_ALERTS_PORT",
    "reports": "CENTINELA_REPORTS_PORT",
    "processor": "CENTINELA_PROCESSOR_PORT",
    "console": "CENTINELA_CONSOLE_PORT",
}
MONITORING = shutil.which("prometheus") is not None


# where the caller keeps its downloads and which servers it runs: kept, so nothing is fetched again
KEEP = {"CENTINELA_CACHE", "CENTINELA_M2_REPO", "CENTINELA_PYTHON", "CENTINELA_SERVER_PYTHON", "CENTINELA_MONGO_SERVER"}


def stack_env(run_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CENTINELA_", "PROMETHEUS_MULTIPROC")) or k in KEEP or k.endswith("_VERSION")
    }
    env.update(
        {
            "CENTINELA_RUN_DIR": str(run_dir),
            "CENTINELA_EXTERNAL_KAFKA": base_env()["CENTINELA_KAFKA_BOOTSTRAP"],
            "CENTINELA_TOPIC_PREFIX": new_prefix(),
            "CENTINELA_PARTITIONS": "3",
            "CENTINELA_MONGO_PORT": str(free_port()),
            "CENTINELA_PROMETHEUS_PORT": str(free_port()),
            "CENTINELA_MONITORING": "1" if MONITORING else "0",
            "CENTINELA_READY_TIMEOUT": "150",
        }
    )
    for name in SERVICES:
        env[PORT_VARS[name]] = str(free_port())
    return env


def pids(run_dir: Path) -> dict[str, int]:
    return {p.stem: int(p.read_text()) for p in (run_dir / "pids").glob("*.pid")}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ready(env: dict[str, str], name: str) -> int:
    try:
        return httpx.get(f"http://127.0.0.1:{env[PORT_VARS[name]]}/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return 0


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    run_dir = tmp_path / "run"
    env = stack_env(run_dir)
    try:
        yield env, run_dir
    finally:
        started = pids(run_dir) if (run_dir / "pids").is_dir() else {}
        subprocess.run(["bash", str(STACK), "down"], env=env, cwd=ROOT, timeout=120, check=False)
        leftovers = [f"{name} ({pid})" for name, pid in started.items() if alive(pid)]
        assert not leftovers, f"stack.sh down left running: {leftovers}"


def test_up_waits_for_every_readyz_and_restart_replaces_one_process(stack: tuple[dict[str, str], Path]) -> None:
    env, run_dir = stack
    up = subprocess.Popen(
        ["bash", str(STACK), "up"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert up.stdout is not None
    output: list[str] = []
    at_summary: dict[str, int] = {}
    deadline = time.monotonic() + 240
    for line in up.stdout:
        output.append(line)
        if line.startswith("centinela is up"):
            # the very moment the summary starts: every process must already be ready
            at_summary = {name: ready(env, name) for name in SERVICES}
        assert time.monotonic() < deadline, "stack.sh up took over 240 s:\n" + "".join(output)
    assert up.wait(30) == 0, "stack.sh up failed:\n" + "".join(output)
    text = "".join(output)
    assert at_summary, "no summary printed:\n" + text
    assert at_summary == {name: 200 for name in SERVICES}, f"summary printed before readiness: {at_summary}\n{text}"
    took = re.search(r"start-up took (\d+)s", text)
    assert took, text
    summary = text[text.index("centinela is up") :]
    urls = re.findall(r"http://127\.0\.0\.1:(\d+)", summary)
    first_service = "console" if "console" in SERVICES else "intake"
    assert urls[0] == env[PORT_VARS[first_service]], f"{first_service} must be listed first:\n{summary}"
    assert f"reports API       http://127.0.0.1:{env['CENTINELA_REPORTS_PORT']}" in summary, summary

    before = pids(run_dir)
    assert set(SERVICES) <= set(before), before
    assert "kafka" not in before, "an external broker is not started by the stack"
    if "console" in before:
        # the console calls this stack's reports API, not the default port
        console_env = dict(
            item.split("=", 1)
            for item in Path(f"/proc/{before['console']}/environ").read_text().split("\0")
            if "=" in item
        )
        reports_url = f"http://127.0.0.1:{env['CENTINELA_REPORTS_PORT']}"
        assert console_env.get("CENTINELA_CONSOLE_REPORTS_URL") == reports_url, console_env.get(
            "CENTINELA_CONSOLE_REPORTS_URL"
        )

    if MONITORING:
        prom = f"http://127.0.0.1:{env['CENTINELA_PROMETHEUS_PORT']}"

        def every_target_up() -> bool:
            targets = httpx.get(f"{prom}/api/v1/targets", timeout=3).json()["data"]["activeTargets"]
            return {t["labels"]["job"] for t in targets if t["health"] == "up"} == set(SERVICES)

        wait_for(every_target_up, timeout=30, interval=0.5, what="Prometheus scraping every process")
        groups = httpx.get(f"{prom}/api/v1/rules", timeout=3).json()["data"]["groups"]
        assert any(rule["type"] == "alerting" for group in groups for rule in group["rules"]), groups

    restart = subprocess.run(
        ["make", "--no-print-directory", "restart", "SERVICE=legal"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert restart.returncode == 0, restart.stdout + restart.stderr
    after = pids(run_dir)
    assert after["legal"] != before["legal"] and alive(after["legal"]), (before, after)
    assert not alive(before["legal"]), "the old legal process still runs"
    assert f"pid {before['legal']} -> {after['legal']}" in restart.stdout, restart.stdout
    others = {name: pid for name, pid in before.items() if name != "legal"}
    assert {name: after[name] for name in others} == others, "restart of legal touched another process"
    assert all(alive(pid) for pid in others.values())
    assert ready(env, "legal") == 200, "restart returned before legal was ready"
