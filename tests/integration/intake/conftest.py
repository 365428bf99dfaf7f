"""Intake as a real uvicorn process on the real broker and database server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.intake.settings import IntakeSettings
from shared.auth import mint
from tests.support import Proc, consumer, drain, free_port, isolated_env, uvicorn_args

# Fixture types, for annotated test signatures.
AsRole = Callable[..., httpx.Client]
EventsOf = Callable[..., list[dict[str, Any]]]
Token = Callable[..., str]

ORG = "org-a"
OTHER_ORG = "org-b"
PROVIDER_ORG = "prov-a"
ADVOCATE = "adv-a"


def start_intake(name: str, env: dict[str, str], log_dir: Path, procs: list[Proc], ready: str = "/readyz") -> Proc:
    port = free_port()
    proc = Proc(name, uvicorn_args("services.intake.main:app", port), env, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready(ready)
    return proc


@pytest.fixture(scope="session")
def intake_env(stack_env: dict[str, str], db_name: Callable[[str], str]) -> dict[str, str]:
    # Own topics: the privacy scan reads every record of case-events, and other suites publish
    # poison there on purpose.
    return {**isolated_env(stack_env), "CENTINELA_MONGO_DB": db_name("intake"), "CENTINELA_OUTBOX_POLL_SECONDS": "0.2"}


@pytest.fixture(scope="session")
def intake(intake_env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    return start_intake("intake", intake_env, log_dir, procs)


@pytest.fixture(scope="session")
def token() -> Callable[..., str]:
    settings = IntakeSettings()

    def make(role: str, sub: str = "user-1", org: str | None = ORG, source_system: str | None = None) -> str:
        return mint(settings, sub=sub, roles=[role], org=org, source_system=source_system)

    return make


@pytest.fixture(scope="session")
def as_role(intake: Proc, token: Callable[..., str]) -> Callable[..., httpx.Client]:
    clients: list[httpx.Client] = []

    def client(
        role: str, sub: str = "user-1", org: str | None = ORG, source_system: str | None = None, **headers: str
    ) -> httpx.Client:
        c = httpx.Client(
            base_url=intake.url,
            headers={"Authorization": f"Bearer {token(role, sub, org, source_system)}", **headers},
            timeout=15,
        )
        clients.append(c)
        return c

    return client


def identity(tag: str, **extra: Any) -> dict[str, Any]:
    return {
        "given_names": f"Given {tag}",
        "family_names": f"Family {tag}",
        "birth_date": "2009-03-04",
        "documents": [{"type": "DNI", "number": f"D{tag[:30]}"}],
        **extra,
    }


def case_body(tag: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "identity": identity(tag),
        "trafficking_status": "Presumed",
        "exploitation_types": ["SexualExploitation", "ForcedLabour"],
        "methods_of_control": ["Threats", "DebtBondage"],
        "region": "Madre de Dios",
        "place_of_exploitation": "mining camp",
        "rescue_date": "2024-02-01",
        "referring_org_id": "police-1",
        "advocate_id": ADVOCATE,
        "consent_for_services": True,
    }
    body.update(extra)
    return body


def created(r: httpx.Response, key: str) -> str:
    """The id under ``key`` of what ``r`` created (it must be a 201)."""
    assert r.status_code == 201, r.text
    return str(r.json()[key])


def register(client: httpx.Client, **extra: Any) -> str:
    """A new case (a new child) registered through ``client``; its id."""
    return created(client.post("/v1/cases", json=case_body(uuid.uuid4().hex, **extra)), "case_id")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def case_events(
    env: dict[str, str], case_ids: set[str], until: Callable[[list[dict[str, Any]]], bool], timeout: float = 60
) -> list[dict[str, Any]]:
    """Every case-events record of these cases (decoded JSON), read from the beginning."""
    with consumer(env, "case-events") as c:

        def mine(records: list[Any]) -> list[dict[str, Any]]:
            keys = {c.encode() for c in case_ids}
            return [json.loads(r.value) for r in records if r.key in keys]

        records = drain(c, lambda recs: until(mine(recs)), timeout=timeout)
        return mine(records)


@pytest.fixture
def events_of(intake_env: dict[str, str]) -> Iterator[Callable[..., list[dict[str, Any]]]]:
    def read(
        case_ids: set[str], until: Callable[[list[dict[str, Any]]], bool], timeout: float = 60
    ) -> list[dict[str, Any]]:
        return case_events(intake_env, case_ids, until, timeout)

    yield read
