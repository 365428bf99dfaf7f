"""POST /v1/court-updates declares its real body in OpenAPI, and answers as before (issue 11 item 8)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import mongoengine
import mongomock
import pytest
from fastapi.testclient import TestClient

from services.legal.domain.deadlines import load_policy
from services.legal.domain.updates import KINDS
from services.legal.main import build_app
from services.legal.service import LegalService
from services.legal.settings import DEFAULT_DEADLINES_FILE, LegalSettings
from services.legal.store.timelines import TimelineRepository
from shared.auth import mint


@pytest.fixture
def client() -> Iterator[TestClient]:
    # the binding of integrators to shared cases is tested in tests/integration/legal/test_integrator_binding.py
    settings = LegalSettings(legal_max_batch=50, legal_integrator_binding="warn")
    mongoengine.disconnect()
    mongoengine.connect("legal_openapi", host="mongodb://localhost", mongo_client_class=mongomock.MongoClient)
    app = build_app(settings)
    repo = TimelineRepository()
    app.state.service = LegalService(settings, repo, load_policy(DEFAULT_DEADLINES_FILE))
    app.state.ready_checks = {}
    c = TestClient(app)  # no lifespan: nothing else connects
    c.headers["Authorization"] = "Bearer " + mint(
        settings, sub="int-sgf", roles=["court_integrator"], source_system="sgf"
    )
    yield c
    mongoengine.disconnect()


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_the_body_is_one_update_or_a_batch_not_any(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/v1/court-updates"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["oneOf"][:2] == [
        {"$ref": "#/components/schemas/CourtUpdate"},
        {"$ref": "#/components/schemas/CourtUpdateBatch"},
    ]
    schemas = doc["components"]["schemas"]
    update = schemas["CourtUpdate"]
    assert update["discriminator"]["propertyName"] == "kind"
    assert sorted(update["discriminator"]["mapping"]) == sorted(KINDS)
    stage = schemas["StageChangedUpdate"]
    assert {"source_system", "update_id", "case_id", "occurred_at", "kind", "stage"} <= set(stage["properties"])
    assert stage["additionalProperties"] is False
    batch = schemas["CourtUpdateBatch"]
    assert batch["required"] == ["updates"] and batch["additionalProperties"] is False
    assert batch["properties"]["updates"]["minItems"] == 1 and batch["properties"]["updates"]["maxItems"] == 50
    for ref in refs(doc):  # every reference resolves inside the document
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    assert "single" in body["content"]["application/json"]["examples"]


def item(n: int, **fields: Any) -> dict[str, Any]:
    base = {"source_system": "sgf", "update_id": f"u{n}", "case_id": "c-1", "occurred_at": "2025-01-02T10:00:00Z"}
    out = {**base, "kind": "stage_changed", "stage": "complaint_filed", **fields}
    return {k: v for k, v in out.items() if v is not None}


def test_validation_is_what_it_was(client: TestClient) -> None:
    single = client.post("/v1/court-updates", json=item(1, occurred_at="not a date"))
    assert single.status_code == 422
    assert [e["field"] for e in single.json()["detail"]] == ["body.occurred_at"]
    batch = client.post("/v1/court-updates", json={"updates": [item(2), item(3, occurred_at="nope"), 7]})
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["reason"].startswith("occurred_at")
    assert client.post("/v1/court-updates", json={"updates": []}).status_code == 422
    assert client.post("/v1/court-updates", json={"updates": [item(4)], "x": 1}).status_code == 422
    assert client.post("/v1/court-updates", json={"updates": [item(5)] * 51}).status_code == 422
    bare = [item(6, kind="victim_notified", about="hearing", stage=None)]
    assert client.post("/v1/court-updates", json=bare).json()["accepted"] == 1
