"""With MongoDB unreachable (a URI on a closed local port) every shared app answers 503 within ~2-3 s."""

from __future__ import annotations

import time
from typing import Any

import mongoengine
import pytest
from fastapi.testclient import TestClient

from shared.app import ServiceRuntime, create_app, service_lifespan
from shared.settings import CommonSettings
from tests.support import free_port

pytestmark = pytest.mark.integration


class Thing(mongoengine.Document):
    meta = {"collection": "things", "db_alias": "default"}
    name = mongoengine.StringField()


def _closed_port_settings(timeout_ms: int = 2000) -> CommonSettings:
    port = free_port()  # bound then released: nothing listens there
    return CommonSettings(
        service_name="storage_down",
        kafka_bootstrap="127.0.0.1:1",
        mongo_uri=f"mongodb://127.0.0.1:{port}/",
        mongo_timeout_ms=timeout_ms,
        retry_after_seconds=5,
    )


@pytest.fixture
def client() -> Any:
    settings = _closed_port_settings()

    def setup(rt: ServiceRuntime) -> None:
        pass

    app = create_app(settings, title="t", description="d", lifespan=service_lifespan(settings, setup))

    @app.get("/raw")
    def raw() -> dict[str, Any]:
        return {"doc": app.state.runtime.db["things"].find_one({"_id": "x"})}

    @app.post("/document")
    def document() -> dict[str, str]:
        Thing(name="n").save()
        return {"ok": "yes"}

    @app.get("/query")
    def query() -> dict[str, int]:
        return {"n": Thing.objects(name="n").count()}

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
    mongoengine.disconnect()


@pytest.mark.parametrize(("method", "path"), [("GET", "/raw"), ("POST", "/document"), ("GET", "/query")])
def test_database_down_is_503_with_retry_after_within_3s(client: TestClient, method: str, path: str) -> None:
    start = time.monotonic()
    r = client.request(method, path)
    elapsed = time.monotonic() - start
    assert r.status_code == 503, r.text
    assert r.json() == {"detail": "storage unavailable"}
    assert r.headers["retry-after"] == "5"
    assert elapsed < 3.0, f"took {elapsed:.2f}s"


def test_readyz_reports_mongodb_unreachable(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["mongodb"] == "unreachable"
