"""Every intake route has an audit action for refusals made before its use case runs."""

from __future__ import annotations

from services.intake.api.deps import ACTIONS
from services.intake.main import build_app


def test_every_route_has_an_audit_action() -> None:
    paths = build_app().openapi()["paths"]
    routes = {
        (method.upper(), path.removeprefix("/v1"))
        for path, operations in paths.items()
        if path.startswith("/v1/")
        for method in operations
    }
    assert routes == set(ACTIONS)
