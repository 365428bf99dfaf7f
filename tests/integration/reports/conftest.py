"""The reports service (and intake, when a test needs it) as real uvicorn processes on the real broker and
database server.

The databases are named as test runs name them, ``<x>_reports`` and ``<x>_intake``, without any audit
setting: reports writes its audit records to the shared trail in intake's database by default
(``shared.audit.audit_database``), where intake's ``GET /v1/audit`` reads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.support import Proc, free_port, isolated_env, uvicorn_args


@contextmanager
def serving(name: str, module: str, env: dict[str, str], log_dir: Path) -> Iterator[Proc]:
    """A service process on a free port, ready, stopped by its PID afterwards."""
    port = free_port()
    proc = Proc(name, uvicorn_args(module, port), env, log_dir, port=port)
    try:
        proc.wait_ready("/readyz")
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def reports_env(stack_env: dict[str, str], db_name: Callable[[str], str]) -> dict[str, str]:
    env = isolated_env(stack_env)
    env["CENTINELA_MONGO_DB"] = db_name(f"r{env['CENTINELA_TOPIC_PREFIX'].strip('.')[-8:]}_reports")
    env["CENTINELA_REPORTS_MATERIALISE_SECONDS"] = "0.2"
    return env


@pytest.fixture(scope="module")
def intake_env(reports_env: dict[str, str]) -> dict[str, str]:
    """The same topics as the reports service; intake's database holds the shared audit trail."""
    db = reports_env["CENTINELA_MONGO_DB"].removesuffix("_reports") + "_intake"
    return {**reports_env, "CENTINELA_MONGO_DB": db, "CENTINELA_OUTBOX_POLL_SECONDS": "0.2"}


@pytest.fixture(scope="module")
def reports_db(reports_env: dict[str, str]) -> Iterator[Database[Any]]:
    client: MongoClient[Any] = MongoClient(reports_env["CENTINELA_MONGO_URI"], tz_aware=True)
    yield client[reports_env["CENTINELA_MONGO_DB"]]
    client.drop_database(reports_env["CENTINELA_MONGO_DB"])
    client.close()


@pytest.fixture(scope="module")
def reports_proc(reports_env: dict[str, str], log_dir: Path, reports_db: Database[Any]) -> Iterator[Proc]:
    with serving("reports", "services.reports.main:app", reports_env, log_dir) as proc:
        yield proc


@pytest.fixture(scope="module")
def intake_proc(intake_env: dict[str, str], log_dir: Path) -> Iterator[Proc]:
    with serving("reports-intake", "services.intake.main:app", intake_env, log_dir) as proc:
        yield proc
