"""The policy file in a real service process: refused at start-up when unusable, reloaded while running,
and a later broken edit keeps the policy in force."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from services.alerts.settings import AlertsSettings
from shared.kafka import Producer
from tests.integration.alerts_service.conftest import SENTINEL, AlertsService, write_policy
from tests.support import Mailbox, Proc, free_port, uvicorn_args, wait_for

pytestmark = pytest.mark.integration


def bump(path: Path) -> None:
    """A rewrite inside one filesystem timestamp tick must still count as a change."""
    stamp = path.stat().st_mtime + 10
    os.utime(path, (stamp, stamp))


StartService = Callable[..., tuple[Proc, dict[str, str]]]


@pytest.fixture
def start(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc]
) -> Iterator[StartService]:
    """``start(name, policy, **env)``: an alerts service process on the session's topics reading
    ``policy``, with its own database and (unless ``group=False``) its own consumer group; returns
    the process (not yet ready) and its environment. Stopped when the test ends: it would otherwise
    consume (and escalate, and dead-letter) the other tests' alerts under its own policy."""
    started: list[Proc] = []

    def start_service(name: str, policy: Path, group: bool = True, **extra: str) -> tuple[Proc, dict[str, str]]:
        env = {**stack_env, "CENTINELA_MONGO_DB": db_name("alerts_policy"), "CENTINELA_POLICY_FILE": str(policy)}
        if group:
            env["CENTINELA_ALERTS_CONSUMER_GROUP"] = f"alerts-policy-{uuid.uuid4().hex[:8]}"
        env |= extra
        port = free_port()
        args = uvicorn_args("services.alerts.main:app", port)
        proc = Proc(f"{name}-{uuid.uuid4().hex[:6]}", args, env, log_dir, port)
        procs.append(proc)
        started.append(proc)
        return proc, env

    yield start_service
    for proc in started:
        proc.stop()


@pytest.mark.parametrize("problem", ["missing", "escalation-only", "bad-duration"])
def test_service_refuses_to_start_naming_the_policy_file(problem: str, start: StartService, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    if problem == "escalation-only":
        path.write_text("escalation:\n  critical: 15min\n")
    elif problem == "bad-duration":
        write_policy(path, {"critical": SENTINEL})
    proc, _ = start("alerts-bad-policy", path, group=False)
    wait_for(lambda: not proc.alive(), timeout=30, what="the service to exit")
    assert proc.popen.returncode != 0
    log = proc.log_text()
    assert "refuses to start" in log and str(path) in log
    assert {"missing": "cannot read", "escalation-only": "rules", "bad-duration": "escalation"}[problem] in log
    assert "Rosa" not in log and SENTINEL not in log


def test_running_service_reloads_the_policy_and_keeps_it_on_a_broken_edit(
    start: StartService, mailbox: Mailbox, tmp_path: Path
) -> None:
    path = write_policy(tmp_path / "policy.yaml", {"critical": "1h"})  # high/medium/low: never escalate
    proc, env = start(
        "alerts-policy-reload",
        path,
        CENTINELA_ESCALATION_TICK_SECONDS="0.3",
        CENTINELA_ESCALATION_MAX_LEVEL="1",
    )
    proc.wait_ready()
    settings = AlertsSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"]
    )
    producer = Producer(settings, client_id="alerts-policy-test")
    try:
        s = AlertsService(proc, env, settings, producer, mailbox, 2.0)
        org, adv = f"org-{uuid.uuid4().hex[:6]}", f"adv-{uuid.uuid4().hex[:6]}"
        mine = s.token("legal_advocate", adv, org)
        critical = s.raise_alert(advocate=adv, org=org, severity="critical")
        low = s.raise_alert(advocate=adv, org=org, severity="low")
        s.wait_alert(critical.alert_id, mine)
        s.wait_alert(low.alert_id, mine)

        # several ticks past the 2 s the file is about to say: under "1h" nothing escalated
        s.wait_ticks(after=time.time() + 2.5)
        assert s.get(f"/v1/alerts/{critical.alert_id}", mine).json()["escalation_level"] == 0

        write_policy(path, {"critical": "2s"})
        bump(path)
        s.wait_alert(critical.alert_id, mine, until=lambda a: a["escalation_level"] == 1)
        wait_for(lambda: "alert policy reloaded" in proc.log_text(), timeout=10, what="reload logged")

        # a broken edit: a warning, the service keeps running on the previous policy
        path.write_text("rules: [unclosed\n")
        bump(path)
        wait_for(lambda: "previous policy stays in force" in proc.log_text(), timeout=10, what="refusal logged")
        assert proc.alive()
        # "low" has no time in either file: it never escalates, however many ticks pass
        s.wait_ticks(after=time.time() + 1)
        assert s.get(f"/v1/alerts/{low.alert_id}", mine).json()["escalation_level"] == 0
        assert s.get("/readyz", {}).status_code == 200
    finally:
        producer.close()


def test_admins_see_the_effective_policy_and_start_up_logs_it(start: StartService, tmp_path: Path) -> None:
    """A file naming two rules (and one severity's escalation) starts the service; every other rule
    keeps its default; admins read the result, marked, and the start-up log carries it (issue 18 item 3)."""
    import httpx

    from shared.auth import mint

    path = tmp_path / "policy.yaml"
    path.write_text(
        "rules:\n  service.overdue: {after: 3d}\n  legal.no_activity: {severity: high}\nescalation: {critical: 30min}\n"
    )
    proc, _ = start("alerts-policy-describe", path)
    proc.wait_ready("/healthz")
    settings = AlertsSettings()

    def headers(role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(settings, sub=f'{role}-1', roles=[role], org='org-1')}"}

    got = httpx.get(proc.url + "/v1/admin/policy", headers=headers("admin"), timeout=10)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["source"] == str(path)
    assert body["rules"]["service.overdue"]["overridden"] == ["after"]
    assert body["rules"]["legal.no_activity"]["overridden"] == ["severity"]
    assert body["rules"]["legal.no_activity"]["severity"] == "high"
    untouched = [r for r in body["rules"] if r not in ("service.overdue", "legal.no_activity")]
    assert untouched and all(body["rules"][r]["overridden"] == [] for r in untouched)
    assert body["escalation"]["critical"] == "30min" and body["escalation_overridden"] == ["critical"]
    assert "high" not in body["escalation"]  # an escalation section is taken as written: high never escalates

    for role in ("legal_advocate", "supervisor", "ops_viewer"):
        assert httpx.get(proc.url + "/v1/admin/policy", headers=headers(role), timeout=10).status_code == 403
    assert httpx.get(proc.url + "/v1/admin/policy", timeout=10).status_code == 401

    log = proc.log_text()
    assert "alert policy in force" in log and "critical=30min*" in log and "severity=high*" in log
