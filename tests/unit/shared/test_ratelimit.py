"""Per-principal write limit (issue 11 item 10): token bucket per token sub, 429 with Retry-After, installed by
create_app from the common settings so every service gets it without wiring."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Body, Depends, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import ValidationError

from shared.app import create_app
from shared.auth import Principal, mint, require
from shared.ratelimit import RateLimiter, TokenBucket, parse_rule
from shared.settings import CommonSettings

SECRET = "unit-test-secret-0123456789abcdef0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0  # one token back after 1/rate
    assert bucket.take(0.5) > 0


def test_limiter_keys_are_independent_and_bounded() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, max_keys=2, clock=clock)
    assert limiter.take("a") == 0 and limiter.take("a") > 0
    assert limiter.take("b") == 0  # another principal is not starved by "a"
    limiter.take("c")
    assert len(limiter) == 2  # "a" (least recently used) dropped
    clock.now += 1.0
    assert limiter.take("b") == 0


@pytest.mark.parametrize(
    ("pattern", "method", "path", "hit"),
    [
        ("POST /v1/cases", "POST", "/v1/cases", True),
        ("POST /v1/cases", "GET", "/v1/cases", False),
        ("POST /v1/cases", "POST", "/v1/cases/cs_1/sessions", False),
        ("POST /v1/cases/{case_id}/sessions", "POST", "/v1/cases/cs_1/sessions", True),
        ("POST /v1/cases/{case_id}/sessions", "POST", "/v1/cases/a/b/sessions", False),
        ("* /v1/court-updates", "PUT", "/v1/court-updates", True),
        ("post /v1/x.y", "POST", "/v1/xzy", False),  # dots are literal
    ],
)
def test_route_patterns(pattern: str, method: str, path: str, hit: bool) -> None:
    assert parse_rule(pattern).matches(method, path) is hit


@pytest.mark.parametrize("bad", ["/v1/cases", "POST v1/cases", "PO$T /v1/cases"])
def test_bad_route_setting_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(ValidationError, match="rate limit route"):
        CommonSettings(rate_limit_routes=[bad])


def _app(**overrides: Any) -> tuple[FastAPI, CommonSettings]:
    settings = CommonSettings(
        service_name="ratelimitunit",
        jwt_secret=SECRET,
        kafka_bootstrap="127.0.0.1:1",
        rate_limit_per_second=1.0,
        rate_limit_burst=3,
        **overrides,
    )
    app = create_app(settings, title="t", description="d")

    @app.post("/v1/cases", status_code=201)
    def register(
        body: Annotated[dict[str, Any], Body()], p: Annotated[Principal, Depends(require("intake_officer"))]
    ) -> dict[str, str]:
        return {"by": p.sub}

    @app.get("/v1/cases")
    def listing(p: Annotated[Principal, Depends(require("intake_officer"))]) -> list[str]:
        return []

    return app, settings


def _auth(settings: CommonSettings, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(settings, sub=sub, roles=['intake_officer'], org='org-1')}"}


def test_429_with_retry_after_per_principal_through_the_app_factory() -> None:
    app, settings = _app()
    client = TestClient(app)
    officer, other = _auth(settings, "officer-1"), _auth(settings, "officer-2")
    body = {"names": "SENTINEL-Quispe"}
    assert [client.post("/v1/cases", json=body, headers=officer).status_code for _ in range(3)] == [201] * 3
    r = client.post("/v1/cases", json=body, headers=officer)
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert "too many requests" in r.json()["detail"] and "SENTINEL" not in r.text
    assert r.headers.get("x-request-id")
    # another principal, and reads of the same principal, are not limited
    assert client.post("/v1/cases", json=body, headers=other).status_code == 201
    assert client.get("/v1/cases", headers=officer).status_code == 200
    # no token or a bad token is not counted: the route answers 401
    assert all(client.post("/v1/cases", json=body).status_code == 401 for _ in range(5))
    bad = {"Authorization": "Bearer not-a-token"}
    assert client.post("/v1/cases", json=body, headers=bad).status_code == 401
    value = REGISTRY.get_sample_value("centinela_ratelimitunit_rate_limited_requests_total", {"rule": "POST /v1/cases"})
    assert value is not None and value >= 1
    throttled = REGISTRY.get_sample_value(
        "centinela_ratelimitunit_http_requests_total", {"method": "POST", "route": "/v1/cases", "status": "429"}
    )
    assert throttled is not None and throttled >= 1


def test_disabled_or_no_routes_means_no_limit() -> None:
    cases: list[dict[str, Any]] = [{"rate_limit_enabled": False}, {"rate_limit_routes": []}]
    for overrides in cases:
        app, settings = _app(**overrides)
        client = TestClient(app)
        headers = _auth(settings, "officer-1")
        assert {client.post("/v1/cases", json={}, headers=headers).status_code for _ in range(6)} == {201}


def test_defaults_are_high_enough_for_tests_and_benchmarks() -> None:
    s = CommonSettings()
    assert s.rate_limit_per_second >= 50 and s.rate_limit_burst >= 200
    assert s.rate_limit_routes == ["POST /v1/cases", "POST /v1/court-updates"]
