"""Database trouble answers 503 storage unavailable with Retry-After; service_lifespan closes Mongo."""

from __future__ import annotations

from typing import Any

import mongoengine.connection
import mongoengine.errors
import pymongo.errors
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shared.app import ServiceRuntime, create_app, is_storage_unavailable, service_lifespan
from shared.errors import InvalidInput, Rejected, StorageUnavailable
from shared.settings import CommonSettings

SENTINEL = "Rosa-Mamani-SENTINEL-77"


def _wrapped() -> None:
    try:
        raise pymongo.errors.AutoReconnect("connection reset")
    except pymongo.errors.AutoReconnect as exc:
        raise mongoengine.errors.OperationError(f"could not save {SENTINEL}") from exc


RAISERS: dict[str, Any] = {
    "selection": pymongo.errors.ServerSelectionTimeoutError("127.0.0.1:1: connection refused"),
    "network": pymongo.errors.NetworkTimeout("timed out"),
    "autoreconnect": pymongo.errors.AutoReconnect("reset"),
    "exec_timeout": pymongo.errors.ExecutionTimeout("operation exceeded time limit"),
    "me_connection": mongoengine.connection.ConnectionFailure("cannot connect"),
    "ours": StorageUnavailable(),
}


def build(settings: CommonSettings | None = None, lifespan: Any = None) -> FastAPI:
    settings = settings or CommonSettings(service_name="unitapp", kafka_bootstrap="127.0.0.1:1", retry_after_seconds=7)
    app = create_app(settings, title="t", description="d", lifespan=lifespan)

    @app.get("/fail/{kind}")
    def fail(kind: str) -> None:
        raise RAISERS[kind]

    @app.get("/wrapped")
    def wrapped() -> None:
        _wrapped()

    @app.get("/op-error")
    def op_error() -> None:
        raise mongoengine.errors.OperationError(SENTINEL)

    @app.get("/invalid")
    def invalid() -> None:
        raise InvalidInput("occurred_at out of range", reason="bad_date", field="x")

    @app.get("/rejected")
    async def rejected() -> None:
        raise Rejected("illegal stage change", reason="illegal_transition")

    return app


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(build(), raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize("kind", sorted(RAISERS))
def test_storage_errors_are_503_with_retry_after(client: TestClient, kind: str) -> None:
    r = client.get(f"/fail/{kind}")
    assert r.status_code == 503
    assert r.json() == {"detail": "storage unavailable"}
    assert r.headers["retry-after"] == "7"


def test_mongoengine_wrapped_connection_error_is_503_and_hides_the_message(client: TestClient) -> None:
    r = client.get("/wrapped")
    assert r.status_code == 503 and r.headers["retry-after"] == "7"
    assert SENTINEL not in r.text


def test_other_operation_error_stays_500_without_details(client: TestClient) -> None:
    r = client.get("/op-error")
    assert r.status_code == 500 and r.json()["detail"] == "internal error"
    assert SENTINEL not in r.text


def test_centinela_errors_carry_their_status_and_reason(client: TestClient) -> None:
    r = client.get("/invalid")
    assert r.status_code == 422
    assert r.json() == {"detail": "occurred_at out of range", "reason": "bad_date", "field": "x"}
    r = client.get("/rejected")
    assert r.status_code == 409 and r.json()["reason"] == "illegal_transition"


def test_is_storage_unavailable_follows_the_cause_chain() -> None:
    with pytest.raises(mongoengine.errors.OperationError) as err:
        _wrapped()
    assert is_storage_unavailable(err.value)
    assert not is_storage_unavailable(mongoengine.errors.OperationError("duplicate"))
    assert not is_storage_unavailable(pymongo.errors.DuplicateKeyError("dup"))


class FakeClient:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def __getitem__(self, name: str) -> dict[str, str]:
        return {"name": name}


class Loop:
    def __init__(self, name: str, log: list[str], fail_stop: bool = False) -> None:
        self.name, self.log, self.fail_stop = name, log, fail_stop

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError("stop failed")


def test_service_lifespan_starts_in_order_stops_in_reverse_and_closes_mongo() -> None:
    settings = CommonSettings(service_name="unitapp", kafka_bootstrap="127.0.0.1:1")
    fake = FakeClient()
    log: list[str] = []
    seen: list[ServiceRuntime] = []

    async def setup(rt: ServiceRuntime) -> None:
        seen.append(rt)
        assert rt.db == {"name": "centinela_unitapp"}
        rt.start(Loop("relay", log), Loop("consumer", log, fail_stop=True), Loop("escalator", log))

    app = build(settings, lifespan=service_lifespan(settings, setup, connect=lambda s: fake))
    with TestClient(app) as c:
        assert app.state.mongo is fake
        assert "mongodb" in app.state.ready_checks
        assert c.get("/healthz").status_code == 200
        assert not fake.closed
    assert log == [
        "start relay",
        "start consumer",
        "start escalator",
        "stop escalator",
        "stop consumer",
        "stop relay",
    ]
    assert fake.closed
    assert seen[0].components == []


def test_service_lifespan_closes_mongo_when_setup_fails() -> None:
    settings = CommonSettings(service_name="unitapp", kafka_bootstrap="127.0.0.1:1")
    fake = FakeClient()
    log: list[str] = []

    def setup(rt: ServiceRuntime) -> None:
        rt.start(Loop("relay", log))
        raise RuntimeError("bad config")

    app = build(settings, lifespan=service_lifespan(settings, setup, connect=lambda s: fake))
    with pytest.raises(RuntimeError, match="bad config"), TestClient(app):
        pass
    assert log == ["start relay", "stop relay"]
    assert fake.closed
