"""A private database on the real MongoDB-wire server (SecantusDB locally) for the storage contract."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from shared.settings import CommonSettings


@pytest.fixture(scope="module")
def mongo(stack_env: dict[str, str]) -> Iterator[MongoClient[Any]]:
    client: MongoClient[Any] = MongoClient(
        stack_env["CENTINELA_MONGO_URI"], serverSelectionTimeoutMS=5000, tz_aware=True
    )
    client.admin.command("ping")
    yield client
    client.close()


@pytest.fixture(scope="module")
def db(mongo: MongoClient[Any], db_name: Callable[[str], str]) -> Database[Any]:
    return mongo[db_name("storage")]


@pytest.fixture
def coll(db: Database[Any]) -> Iterator[Any]:
    """A fresh collection per test (the database is dropped at session end)."""
    c = db[f"c_{uuid.uuid4().hex[:12]}"]
    yield c
    c.drop()


@pytest.fixture
def settings(stack_env: dict[str, str], db_name: Callable[[str], str]) -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap=stack_env["CENTINELA_KAFKA_BOOTSTRAP"],
        mongo_uri=stack_env["CENTINELA_MONGO_URI"],
        topic_prefix=stack_env["CENTINELA_TOPIC_PREFIX"],
        partitions=int(stack_env["CENTINELA_PARTITIONS"]),
        mongo_db=db_name("storage"),
        service_name="storage",
    )
