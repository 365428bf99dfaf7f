"""/readyz in the shared app: a check may give a reason, and a stuck consumer makes it 503 with why (no network)."""

from __future__ import annotations

from types import SimpleNamespace

from fastapi.testclient import TestClient

from shared.app import create_app, ready_status
from shared.consumer import ConsumerHealth, _Failing
from shared.settings import CommonSettings


def test_what_a_check_may_return() -> None:
    assert ready_status(True) == "ok" and ready_status(None) == "ok"
    assert ready_status(False) == "unreachable"
    assert ready_status("replica set has no primary") == "replica set has no primary"
    assert ready_status((True, "")) == "ok"
    assert ready_status((False, "disk full")) == "disk full"
    assert ready_status((False, "")) == "unreachable"


def test_reasons_and_stuck_consumers_make_it_503_with_why() -> None:
    settings = CommonSettings(service_name="unitready", kafka_bootstrap="127.0.0.1:1")
    app = create_app(settings, title="t", description="d")
    app.state.ready_checks = {"kafka": lambda: True, "mongodb": lambda: (True, "")}
    now = [100.0]
    health = ConsumerHealth("case-events", stuck_after=30.0, clock=lambda: now[0])
    app.state.consumers = [SimpleNamespace(topic="case-events", health=health)]
    client = TestClient(app)  # no lifespan: nothing connects
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"kafka": "ok", "mongodb": "ok", "consumer:case-events": "ok"}

    health.failing[2] = _Failing(offset=9, since=50.0, attempts=4, exc_type="AutoReconnect")
    r = client.get("/readyz")
    assert r.status_code == 503
    reason = r.json()["checks"]["consumer:case-events"]
    assert reason.startswith("stuck: case-events: partition 2 failing for 50s") and "AutoReconnect" in reason

    health.failing.clear()
    app.state.ready_checks["mongodb"] = lambda: "no primary"
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["mongodb"] == "no primary"


def test_a_consumer_without_progress_tracking_does_not_break_readyz() -> None:
    # a consumer registered without per-partition health (no ``health`` attribute) is left out of /readyz
    settings = CommonSettings(service_name="unitready2", kafka_bootstrap="127.0.0.1:1")
    app = create_app(settings, title="t", description="d")
    app.state.ready_checks = {"kafka": lambda: True}
    app.state.consumers = [SimpleNamespace(topic="alerts")]
    r = TestClient(app).get("/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"kafka": "ok"}
