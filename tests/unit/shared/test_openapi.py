"""The OpenAPI document of a create_app service declares what the shared app answers around every route."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from shared.app import create_app
from shared.auth import Principal, mint, require
from shared.settings import CommonSettings

SECRET = "unit-test-secret-0123456789abcdef0123456789"


class Case(BaseModel):
    nickname: str = Field(max_length=8)


def build() -> tuple[FastAPI, CommonSettings]:
    settings = CommonSettings(service_name="openapiunit", jwt_secret=SECRET, kafka_bootstrap="127.0.0.1:1")
    app = create_app(settings, title="t", description="d")

    @app.post("/v1/cases", status_code=201)
    def register(body: Case, p: Annotated[Principal, Depends(require("intake_officer"))]) -> dict[str, str]:
        return {"by": p.sub}

    @app.get("/v1/cases/{case_id}", responses={404: {"description": "mine"}})
    def read(case_id: str, p: Annotated[Principal, Depends(require("intake_officer"))]) -> dict[str, str]:
        return {"case_id": case_id}

    return app, settings


def responses(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return doc["paths"][path][method]["responses"]


def test_shared_answers_are_declared() -> None:
    app, _ = build()
    doc = app.openapi()
    post = responses(doc, "post", "/v1/cases")
    assert {"201", "400", "401", "403", "413", "422", "429", "503"} <= set(post)
    assert "404" not in post  # no path parameter, nothing to miss
    assert "Retry-After" in post["429"]["headers"] and "Retry-After" in post["503"]["headers"]
    get = responses(doc, "get", "/v1/cases/{case_id}")
    assert {"200", "401", "403", "404", "422", "503"} <= set(get) and not {"400", "413", "429"} & set(get)
    assert get["404"]["description"] == "mine"  # a route's own words are kept
    assert get["404"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert set(responses(doc, "get", "/healthz")) == {"200"}
    assert {"200", "503"} <= set(responses(doc, "get", "/readyz"))


def test_documented_422_is_the_shape_really_sent() -> None:
    app, settings = build()
    doc = app.openapi()
    field_error = doc["components"]["schemas"]["ValidationError"]
    assert set(field_error["required"]) == {"field", "type", "msg"}
    token = mint(settings, sub="o-1", roles=["intake_officer"])
    r = TestClient(app).post(
        "/v1/cases", json={"nickname": "far-too-long"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 422
    (item,) = r.json()["detail"]
    assert set(item) == set(field_error["properties"]) and item["field"] == "body.nickname"


def test_unreadable_body_is_a_documented_400() -> None:
    app, settings = build()
    token = mint(settings, sub="o-1", roles=["intake_officer"])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    r = TestClient(app).post("/v1/cases", content=b"U\xff\xfe{", headers=headers)
    assert str(r.status_code) in responses(app.openapi(), "post", "/v1/cases")
    assert r.status_code == 400


def test_document_is_built_once() -> None:
    app, _ = build()
    assert app.openapi() is app.openapi()
