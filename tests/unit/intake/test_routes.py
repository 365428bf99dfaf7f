"""Every intake route has an audit action for refusals made before its use case runs, and declares its refusals."""

from __future__ import annotations

from services.intake.api.deps import ACTIONS
from services.intake.domain import model
from services.intake.main import build_app
from services.intake.service.core import refused


def test_every_route_has_an_audit_action() -> None:
    paths = build_app().openapi()["paths"]
    routes = {
        (method.upper(), path.removeprefix("/v1"))
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert routes == set(ACTIONS)


def test_refusals_map_to_their_status() -> None:
    """A body that contradicts itself is 422 naming the field; a clash with the case is 409 (issue 11 item 8)."""
    bad = refused(model.InvalidInput("spl_Type", "spl_Type Legal does not fit service_kind health"))
    assert bad.status_code == 422
    assert bad.detail == [
        {"field": "body.spl_Type", "type": "value_error", "msg": "spl_Type Legal does not fit service_kind health"}
    ]
    clash = refused(model.RuleViolation("this follow-up is already recorded"))
    assert clash.status_code == 409 and clash.detail == "this follow-up is already recorded"
    assert refused(model.NotFound("referral not found")).status_code == 404


def test_every_write_declares_its_own_refusals() -> None:
    """Each route names the statuses its use case answers (409, 428, 400 for break-glass...), with a body
    schema, and the If-Match and X-Access-Reason headers it reads (issue 11 item 8)."""
    document = build_app().openapi()
    paths = document["paths"]
    writes = [
        (method, path)
        for path, operations in paths.items()
        for method in operations
        if method in ("post", "patch", "put") and path.startswith("/v1/cases/")
    ]
    assert len(writes) >= 10
    for method, path in writes:
        op = paths[path][method]
        assert "409" in op["responses"], (method, path)
        assert op["responses"]["409"]["content"]["application/json"]["schema"], (method, path)
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        assert "X-Access-Reason" in headers, (method, path)
        if path != "/v1/cases/{case_id}/documents":
            assert "If-Match" in headers, (method, path)
    assert "428" in paths["/v1/cases/{case_id}"]["patch"]["responses"]
    for path in ("/v1/cases/{case_id}", "/v1/cases/{case_id}/services", "/v1/cases/{case_id}/documents/{doc_id}"):
        assert "400" in paths[path]["get"]["responses"], path
    refusal = document["components"]["schemas"]["Refusal"]
    assert refusal["required"] == ["detail"]
