"""Session fixtures: an isolated namespace (topic prefix, databases) on the real stack."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import CREATED_PREFIXES, Proc, base_env, delete_topics, new_prefix

TESTS = Path(__file__).resolve().parent
# Tests are marked by the infrastructure they touch, which is where they live (DESIGN.md convention 6):
# the directory decides, so no file has to remember its marker and ``-m "not integration"`` is exact.
DIRECTORY_MARKERS = {"integration": "integration", "e2e": "e2e"}


def directory_marker(path: Path) -> str | None:
    """``integration`` for tests/integration/**, ``e2e`` for tests/e2e/**, else None."""
    try:
        top = path.resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return DIRECTORY_MARKERS.get(top)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        marker = directory_marker(Path(str(item.path)))
        if marker is not None and item.get_closest_marker(marker) is None:
            item.add_marker(getattr(pytest.mark, marker))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Delete the topics of every prefix this session made, so the broker does not fill up."""
    from kafka.errors import KafkaError

    try:
        delete_topics(base_env()["CENTINELA_KAFKA_BOOTSTRAP"], CREATED_PREFIXES)
    except KafkaError:  # tidying only: a broker already gone keeps its topics, the results stand
        pass


@pytest.fixture(scope="session")
def stack_env() -> Iterator[dict[str, str]]:
    """Env for processes of this test session: real Kafka and MongoDB, a private topic prefix.

    Topics are created under the prefix; databases are ``<prefix>_<service>`` and are dropped
    at the end of the session.
    """
    from pymongo import MongoClient

    from shared.settings import CommonSettings
    from shared.topics import ensure_topics

    prefix = new_prefix()
    env = {**base_env(), "CENTINELA_TOPIC_PREFIX": prefix, "CENTINELA_PARTITIONS": "3"}
    settings = CommonSettings(kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=prefix, partitions=3)
    ensure_topics(settings, timeout=60)
    yield env
    client: MongoClient[Any] = MongoClient(env["CENTINELA_MONGO_URI"], serverSelectionTimeoutMS=3000)
    try:
        for name in client.list_database_names():
            if name.startswith(db_prefix(prefix)):
                client.drop_database(name)
    finally:
        client.close()


def db_prefix(topic_prefix: str) -> str:
    return "test_" + topic_prefix.rstrip(".")


@pytest.fixture(scope="session")
def db_name(stack_env: dict[str, str]) -> Callable[[str], str]:
    def name(service: str) -> str:
        return f"{db_prefix(stack_env['CENTINELA_TOPIC_PREFIX'])}_{service}"

    return name


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keep = os.environ.get("CENTINELA_TEST_LOG_DIR")
    if keep:
        path = Path(keep)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("proc-logs")


@pytest.fixture(scope="session")
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for p in reversed(started):
        p.stop()
