"""The reports service as a real uvicorn process on the real broker and database server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from tests.support import Proc, free_port, isolated_env, uvicorn_args


@pytest.fixture(scope="module")
def reports_env(stack_env: dict[str, str], db_name: Callable[[str], str]) -> dict[str, str]:
    env = isolated_env(stack_env)
    env["CENTINELA_MONGO_DB"] = db_name(f"reports_{env['CENTINELA_TOPIC_PREFIX'].strip('.')[-8:]}")
    env["CENTINELA_REPORTS_MATERIALISE_SECONDS"] = "0.2"
    return env


@pytest.fixture(scope="module")
def reports_db(reports_env: dict[str, str]) -> Iterator[Database[Any]]:
    client: MongoClient[Any] = MongoClient(reports_env["CENTINELA_MONGO_URI"], tz_aware=True)
    yield client[reports_env["CENTINELA_MONGO_DB"]]
    client.drop_database(reports_env["CENTINELA_MONGO_DB"])
    client.close()


@pytest.fixture(scope="module")
def reports_proc(reports_env: dict[str, str], log_dir: Path, reports_db: Database[Any]) -> Iterator[Proc]:
    port = free_port()
    proc = Proc("reports", uvicorn_args("services.reports.main:app", port), reports_env, log_dir, port=port)
    try:
        proc.wait_ready("/readyz")
        yield proc
    finally:
        proc.stop()
