"""/readyz says 503 with the reason while a consumer cannot progress (issue 10)."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi.testclient import TestClient

from services.legal.main import build_app
from services.legal.settings import LegalSettings
from shared.consumer import ConsumerHealth, _Failing


def test_readyz_is_503_with_the_reason_while_stuck_and_200_after():
    app = build_app(LegalSettings())
    app.state.ready_checks = {}  # no broker or database in a unit test
    now = [100.0]
    health = ConsumerHealth("court-updates", stuck_after=30.0, clock=lambda: now[0])
    app.state.consumers = [SimpleNamespace(topic="court-updates", health=health)]
    client = TestClient(app)  # no lifespan: nothing connects
    assert client.get("/readyz").status_code == 200

    health.failing[4] = _Failing(offset=17, since=60.0, attempts=5, exc_type="ServerSelectionTimeoutError")
    r = client.get("/readyz")
    assert r.status_code == 503
    reason = r.json()["checks"]["consumer:court-updates"]
    assert reason.startswith("stuck: court-updates: partition 4 failing for 40s")
    assert "ServerSelectionTimeoutError" in reason

    health.failing.clear()
    assert client.get("/readyz").status_code == 200
