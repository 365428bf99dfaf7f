"""The legal service as a real uvicorn process on the session's Kafka topics and its own database."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.auth import mint
from shared.events.case import AdvocateAssigned, CaseRegistered
from shared.kafka import Producer
from shared.settings import CommonSettings
from shared.topics import CASE_EVENTS
from tests.support import Proc, free_port, uvicorn_args, wait_for

DEADLINES = """
stages:
  preliminary_investigation:
    ordinary: {term: 60d}
    complex: {term: 8mo, article: "CPP art. 334.2"}
  preparatory_investigation:
    ordinary: {term: 120d, extension: 60d, article: "CPP art. 342.1"}
    complex: {term: 8mo, extension: 8mo}
    organised_crime: {term: 36mo, extension: 36mo}
  trial:
    ordinary: {term: 5s}
"""


@pytest.fixture(scope="session")
def legal_settings(stack_env: dict[str, str]) -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap=stack_env["CENTINELA_KAFKA_BOOTSTRAP"],
        topic_prefix=stack_env["CENTINELA_TOPIC_PREFIX"],
        partitions=3,
    )


@pytest.fixture(scope="session")
def legal_env(stack_env: dict[str, str], db_name: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory):
    deadlines = tmp_path_factory.mktemp("legal") / "deadlines.yaml"
    deadlines.write_text(DEADLINES)
    return {
        **stack_env,
        "CENTINELA_MONGO_DB": db_name("legal"),
        "CENTINELA_LEGAL_DEADLINES_FILE": str(deadlines),
        "CENTINELA_LEGAL_STATS_INTERVAL_SECONDS": "0.5",
        # these tests publish for cases nobody shared (the binding: legal/test_integrator_binding.py)
        "CENTINELA_LEGAL_INTEGRATOR_BINDING": "warn",
    }


@pytest.fixture(scope="session")
def legal(legal_env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    port = free_port()
    proc = Proc("legal", uvicorn_args("services.legal.main:app", port), legal_env, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready()
    return proc


@pytest.fixture(scope="session")
def producer(legal_settings: CommonSettings) -> Iterator[Producer]:
    p = Producer(legal_settings, client_id="legal-tests")
    yield p
    p.close()


class Tokens:
    def __init__(self, settings: CommonSettings) -> None:
        self.settings = settings

    def __call__(self, role: str, sub: str = "someone", org: str | None = None, source: str | None = None) -> dict:
        token = mint(self.settings, sub=sub, roles=[role], org=org, source_system=source)
        return {"Authorization": f"Bearer {token}"}

    def integrator(self, source: str = "sgf") -> dict:
        return self("court_integrator", sub=f"int-{source}", source=source)


@pytest.fixture(scope="session")
def tokens(legal_settings: CommonSettings) -> Tokens:
    return Tokens(legal_settings)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def update(case_id: str, kind: str, occurred_at: str, source: str = "sgf", **fields: Any) -> dict[str, Any]:
    return {
        "source_system": source,
        "update_id": new_id("u"),
        "case_id": case_id,
        "kind": kind,
        "occurred_at": occurred_at,
        **fields,
    }


def scheduled(case_id: str, occurred_at: str, hearing_id: str, scheduled_for: str) -> dict[str, Any]:
    """A ``hearing_scheduled`` update: ``hearing_id`` set at ``occurred_at`` for ``scheduled_for``."""
    return update(case_id, "hearing_scheduled", occurred_at, hearing_id=hearing_id, scheduled_for=scheduled_for)


def post(proc: Proc, headers: dict, body: Any) -> httpx.Response:
    return httpx.post(proc.url + "/v1/court-updates", json=body, headers=headers, timeout=60)


def register_case(producer: Producer, case_id: str, org_id: str, advocate_id: str | None) -> None:
    """What intake publishes: the legal service learns who may read the case from it."""
    event = CaseRegistered(case_id=case_id, org_id=org_id, advocate_id=advocate_id, registered_at=datetime.now(UTC))
    producer.publish(CASE_EVENTS, event).get(timeout=30)


def assign_advocate(producer: Producer, case_id: str, org_id: str, advocate_id: str) -> None:
    event = AdvocateAssigned(case_id=case_id, org_id=org_id, advocate_id=advocate_id, assigned_at=datetime.now(UTC))
    producer.publish(CASE_EVENTS, event).get(timeout=30)


def timeline(proc: Proc, case_id: str, headers: dict) -> httpx.Response:
    return httpx.get(f"{proc.url}/v1/cases/{case_id}/legal-timeline", headers=headers, timeout=30)


def readable_timeline(proc: Proc, case_id: str, headers: dict, until: Callable[[dict], bool] = lambda t: True) -> dict:
    """Poll until the case-events consumer has granted access and ``until`` holds."""

    def ready() -> dict | None:
        r = timeline(proc, case_id, headers)
        return r.json() if r.status_code == 200 and until(r.json()) else None

    return wait_for(ready, timeout=60, what=f"timeline of {case_id}")
