"""shared.audit: where the one trail lives by default, the record shape, the route template, and the
service filter over records written before records named their service (issue 11 item 3)."""

from __future__ import annotations

from typing import Any

import mongomock
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from shared.audit import AuditContext, AuditEntry, AuditQuery, AuditTrail, audit_database, current_route
from shared.settings import CommonSettings


@pytest.mark.parametrize(
    ("service", "mongo_db", "audit_db", "expected"),
    [
        ("legal", "", "", "centinela_intake"),  # make up and compose: everyone writes to intake's database
        ("alerts", "t123_trail_alerts", "", "t123_trail_intake"),  # test runs name databases <x>_<service>
        ("intake", "t123_intake", "", "t123_intake"),
        ("legal", "prod-legal-db", "", "prod-legal-db"),  # no naming to follow: its own database
        ("legal", "t1_legal", "audit_here", "audit_here"),  # the setting wins
    ],
)
def test_the_trail_is_in_intakes_database_by_default(service: str, mongo_db: str, audit_db: str, expected: str) -> None:
    settings = CommonSettings(service_name=service, mongo_db=mongo_db, audit_db=audit_db)
    assert audit_database(settings) == expected


def test_a_record_has_the_one_shape_and_never_an_unknown_outcome() -> None:
    coll: Any = mongomock.MongoClient()["db"]["audit"]
    trail = AuditTrail(coll, "alerts")
    trail.record(actor="adv-1", role="legal_advocate", org="org-1", action="alerts.alert.read", case_id="cs_1")
    [doc] = list(coll.find())
    assert set(doc) == {
        "_id", "at", "service", "actor", "role", "roles", "org", "action", "case_id", "outcome", "request_id",
        "route", "reason", "details",
    }  # fmt: skip
    assert (doc["service"], doc["roles"], doc["outcome"], doc["route"]) == ("alerts", ["legal_advocate"], "ok", None)
    with pytest.raises(ValueError, match="outcome"):
        trail.entry(actor="a", role="r", action="x", outcome="maybe")


def test_the_route_is_the_full_template_of_an_included_router() -> None:
    seen: list[str | None] = []
    inner = APIRouter()

    @inner.get("/alerts/{alert_id}/history")
    def history(alert_id: str) -> dict[str, str]:
        seen.append(current_route())
        return {}

    outer = APIRouter(prefix="/v1")
    outer.include_router(inner)
    app = FastAPI()
    app.include_router(outer)
    app.add_middleware(AuditContext)
    assert TestClient(app).get("/v1/alerts/al-7/history").status_code == 200
    assert seen == ["GET /v1/alerts/{alert_id}/history"]
    assert current_route() is None  # outside a request


def test_service_filter_covers_records_from_before_the_shared_trail() -> None:
    coll: Any = mongomock.MongoClient()["db"]["audit"]
    base = {"actor": "u", "role": "admin", "outcome": "ok"}
    coll.insert_many(
        [
            {**base, "action": "case.read", "at": 1},  # intake, before records named their service
            {**base, "action": "legal.timeline.read", "at": 2},  # legal, same
            {**base, "action": "alerts.alert.read", "service": "alerts", "at": 3},
            {**base, "action": "case.views", "service": "intake", "at": 4},
        ]
    )
    for service, actions in {
        "intake": {"case.read", "case.views"},
        "legal": {"legal.timeline.read"},
        "alerts": {"alerts.alert.read"},
    }.items():
        query = AuditQuery(service=service)
        assert {d["action"] for d in coll.find(query.mongo())} == actions
        assert {d["action"] for d in coll.find() if query.keep(d)} == actions
    assert AuditEntry.from_doc({**base, "_id": 1, "action": "legal.x", "at": _now()}).service == "legal"


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)
