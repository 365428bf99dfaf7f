"""Helpers for the processor's integration tests: a seconds-scale policy, publishing, reading alerts."""

from __future__ import annotations

import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.events import Event, decode
from shared.events import case as ce
from shared.kafka import Producer
from shared.settings import CommonSettings
from tests.support import Proc, free_port

# everything not under test is pushed out of the way, so only the rules a test drives can fire
QUIET = "1h"

# Reminders fire days before a deadline: against a test's seconds-scale deadlines they fire at once,
# so they are off unless the test is about them.
REMINDER_RULES = ("legal.deadline_approaching", "legal.hearing_upcoming")


def seconds_policy(tmp: Path, *, reminders: bool = False, **after: str) -> Path:
    """The shipped policy with every threshold at ``QUIET`` except the ``after`` given (``service__overdue="2s"``)."""
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    for rule_id, cfg in doc["rules"].items():
        if "after" in cfg:
            cfg["after"] = QUIET
        if rule_id == "followup.overdue":
            cfg["schedule_after_closure"] = [QUIET]
        if rule_id in REMINDER_RULES and not reminders:
            cfg["enabled"] = False
    for key, value in after.items():
        doc["rules"][key.replace("__", ".")]["after"] = value
    path = tmp / f"policy-{uuid.uuid4().hex[:6]}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def start_processor(
    name: str,
    env: dict[str, str],
    log_dir: Path,
    policy: Path,
    *,
    args: tuple[str, ...] = (),
    port: int | None = None,
    session_timeout: float = 10.0,
    datadir: Path | None = None,
) -> Proc:
    """A ready processor worker; its case-state databases in ``datadir`` (default: a directory of its
    own under ``log_dir``: two workers never share one, a restart may reuse its predecessor's)."""
    port = port or free_port()
    proc = Proc(
        name,
        [
            sys.executable,
            "-m",
            "services.processor",
            "worker",
            "--web-port",
            str(port),
            "-l",
            os.environ.get("CENTINELA_TEST_PROCESSOR_LOGLEVEL", "warn"),
            *args,
        ],
        {
            **env,
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_PROCESSOR_TICK_SECONDS": "0.5",
            "CENTINELA_PROCESSOR_SESSION_TIMEOUT_SECONDS": f"{session_timeout:g}",
            "CENTINELA_PROCESSOR_DATADIR": str(datadir or log_dir / f"{name}-data"),
        },
        log_dir,
        port=port,
    )
    try:
        proc.wait_ready("/readyz", timeout=90)
    except BaseException:
        proc.stop()  # a worker that never got ready is nobody's to stop later: stop it here
        raise
    return proc


def processor_reading(
    name: str, policy_text: str, env: dict[str, str], log_dir: Path, procs: list[Proc], tmp: Path
) -> Proc:
    """A ready processor reading the policy file ``policy_text`` (written under ``tmp``), stopped with ``procs``."""
    policy = tmp / f"{name}.yaml"
    policy.write_text(policy_text)
    proc = start_processor(name, env, log_dir, policy)
    procs.append(proc)
    return proc


def producer(env: dict[str, str]) -> Producer:
    settings = CommonSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"],
        topic_prefix=env["CENTINELA_TOPIC_PREFIX"],
        partitions=int(env.get("CENTINELA_PARTITIONS", "3")),
    )
    return Producer(settings, client_id="test-alerts-processor")


def now() -> datetime:
    return datetime.now(UTC)


def registered(case_id: str, org: str, advocate: str, at: datetime | None = None) -> ce.CaseRegistered:
    return ce.CaseRegistered(case_id=case_id, org_id=org, advocate_id=advocate, registered_at=at or now())


def service_planned(case_id: str, first_due_at: datetime, **fields: Any) -> ce.ServicePlanned:
    """A planned service: a psychosocial one of provider org-p (``s1``) planned now unless ``fields``
    say otherwise (service_id, service_kind, spl_type, provider_org_id, sessions_planned, interval_days...)."""
    defaults = {"service_id": "s1", "spl_type": "SocialCare", "service_kind": "psychosocial", "planned_at": now()}
    defaults["provider_org_id"] = "org-p"
    return ce.ServicePlanned(case_id=case_id, first_due_at=first_due_at, **(defaults | fields))


def new_case() -> str:
    return f"case-{uuid.uuid4().hex[:12]}"


def alert_events(records: list[Any], case_id: str | None = None) -> list[Event]:
    out = []
    for r in records:
        ev = decode(r.value)
        if case_id is None or ev.case_id == case_id:
            out.append(ev)
    return out


def find(records: list[Any], case_id: str, type_suffix: str, rule: str) -> list[Event]:
    return [
        e
        for e in alert_events(records, case_id)
        if e.type.endswith(type_suffix) and e.payload.rule == rule  # type: ignore[attr-defined]
    ]
