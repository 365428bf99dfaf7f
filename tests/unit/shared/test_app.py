"""create_app: health, body limit, validation errors that name the field but never echo the value."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from shared.app import create_app
from shared.settings import CommonSettings

SENTINEL = "Rosa-Mamani-SENTINEL-41c9"


class Body(BaseModel):
    nickname: str = Field(max_length=8)
    kind: Literal["health", "legal"]
    count: int = 0


def _const(value: bool) -> Callable[[], bool]:
    return lambda: value


def build(ready: dict[str, bool] | None = None) -> FastAPI:
    settings = CommonSettings(service_name="unitapp", max_body_bytes=2048, kafka_bootstrap="127.0.0.1:1")
    checks = {name: _const(ok) for name, ok in (ready or {}).items()}
    app = create_app(settings, title="t", description="d", ready_checks=checks)

    @app.post("/things")
    def things(body: Body) -> dict[str, int]:
        return {"count": body.count}

    @app.get("/missing/{thing_id}")
    def missing(thing_id: str) -> None:
        raise HTTPException(404, "no such thing")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError(SENTINEL)

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(build(), raise_server_exceptions=False) as c:
        yield c


def test_healthz_and_request_id(client: TestClient) -> None:
    r = client.get("/healthz", headers={"x-request-id": "req-123"})
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["x-request-id"] == "req-123"
    assert client.get("/healthz").headers["x-request-id"]


def test_readyz_reports_each_check() -> None:
    with TestClient(build({"mongodb": True})) as c:
        r = c.get("/readyz")
    # kafka at 127.0.0.1:1 is unreachable, so not ready
    assert r.status_code == 503
    assert r.json() == {"status": "not ready", "checks": {"kafka": "unreachable", "mongodb": "ok"}}
    app = build({"mongodb": True})
    app.state.ready_checks["kafka"] = lambda: True
    with TestClient(app) as c:
        assert c.get("/readyz").status_code == 200


def test_valid_body(client: TestClient) -> None:
    r = client.post("/things", json={"nickname": "ok", "kind": "health", "count": 3})
    assert r.status_code == 200 and r.json() == {"count": 3}


def test_422_names_the_field_without_echoing_the_value(client: TestClient) -> None:
    r = client.post("/things", json={"nickname": SENTINEL, "kind": SENTINEL, "count": SENTINEL})
    assert r.status_code == 422
    assert SENTINEL not in r.text
    fields = {d["field"] for d in r.json()["detail"]}
    assert fields == {"body.nickname", "body.kind", "body.count"}
    kind = next(d for d in r.json()["detail"] if d["field"] == "body.kind")
    assert "health" in kind["msg"] and "legal" in kind["msg"]


def test_422_for_malformed_json_does_not_echo_it(client: TestClient) -> None:
    r = client.post(
        "/things", content=b'{"nickname": "' + SENTINEL.encode(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert SENTINEL not in r.text


def test_413_for_oversize_body_with_content_length(client: TestClient) -> None:
    r = client.post("/things", json={"nickname": "x" * 4000, "kind": "health"})
    assert r.status_code == 413
    assert "2048" in r.json()["detail"]


def test_413_for_oversize_chunked_body(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"nickname": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'", "kind": "health"}'

    r = client.post("/things", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_http_exceptions_keep_their_status(client: TestClient) -> None:
    r = client.get("/missing/abc")
    assert r.status_code == 404 and r.json() == {"detail": "no such thing"}


def test_unhandled_error_is_500_without_details(client: TestClient) -> None:
    r = client.get("/boom", headers={"x-request-id": "req-boom"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal error", "request_id": "req-boom"}
    assert SENTINEL not in r.text


def test_metrics_count_route_templates_not_paths(client: TestClient) -> None:
    client.get("/missing/case-secret-id-1")
    text = client.get("/metrics").text
    assert 'centinela_unitapp_http_requests_total{method="GET",route="/missing/{thing_id}",status="404"}' in text
    assert "case-secret-id-1" not in text


def test_operational_endpoints_have_their_own_route_label(client: TestClient) -> None:
    client.get("/metrics")
    client.get("/no/such/path/secret-9")
    text = client.get("/metrics").text
    assert 'centinela_unitapp_http_requests_total{method="GET",route="/metrics",status="200"}' in text
    assert 'route="unmatched",status="404"' in text and "secret-9" not in text


def test_small_chunked_body_reaches_the_route(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"nickname": "ok", '
        yield b'"kind": "legal", "count": 5}'

    r = client.post("/things", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200 and r.json() == {"count": 5}
