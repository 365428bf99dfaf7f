"""An alert follows the case's current advocate (issue 13 item 8): ``centinela.alert.updated`` naming a new
advocate moves the same alert to them, keeps the change in its history, and never goes backwards (mongomock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.alerts.domain.visibility import scope_filter
from services.alerts.service.ingest import AlertIngestor
from services.processor.domain.updates import AlertUpdated
from shared.auth import Principal
from shared.events import decode, encode, new_event
from shared.events.alerts import AlertResolved
from tests.unit.alerts_service.test_ingestor import feed, raised, world  # noqa: F401 (fixture)

T0 = datetime.now(UTC).replace(microsecond=0)


def updated(p: Any, advocate: str | None, at: datetime, previous: str | None = "adv-1", **kw: Any) -> Any:
    return AlertUpdated(
        case_id=p.case_id,
        alert_id=p.alert_id,
        rule=p.rule,
        episode=1,
        severity=kw.get("severity", p.severity),
        org_id="org-1",
        advocate_id=advocate,
        previous_advocate_id=previous,
        summary=kw.get("summary", p.summary),
        evidence=kw.get("evidence", p.evidence),
        changed=kw.get("changed", ["advocate"]),
        updated_at=at,
    )


def sees(db: Any, advocate: str, alert_id: str) -> bool:
    scope = scope_filter(Principal(sub=advocate, roles=frozenset({"legal_advocate"}), org="org-1"))
    assert scope is not None
    return db["alerts"].find_one({"_id": alert_id, **scope}) is not None


def test_the_open_alert_follows_the_new_advocate_with_history(world: dict[str, Any]) -> None:  # noqa: F811
    ing: AlertIngestor = world["ing"]
    db = world["db"]
    db["directory"].insert_one({"_id": "adv-2", "email": "adv2@x.test", "org_id": "org-1", "role": "legal_advocate"})
    p = raised()
    feed(ing, p)
    assert sees(db, "adv-1", p.alert_id) and not sees(db, "adv-2", p.alert_id)

    feed(ing, updated(p, "adv-2", T0))
    doc = db["alerts"].find_one({"_id": p.alert_id})
    assert doc["advocate_id"] == "adv-2" and doc["status"] == "open"
    assert sees(db, "adv-2", p.alert_id) and not sees(db, "adv-1", p.alert_id)
    assert db["alerts"].count_documents({}) == 1  # the same alert, not a second one
    moves = [h for h in doc["history"] if h["action"] == "reassigned"]
    assert [(h["previous_advocate_id"], h["advocate_id"]) for h in moves] == [("adv-1", "adv-2")]
    assert ("reassigned", p.alert_id) in world["changes"]
    # the new advocate is told (in their language: Spanish by default); once, even when replayed
    feed(ing, updated(p, "adv-2", T0))
    to_new = [j for j in db["jobs"].find({"channel": "email"}) if j["payload"]["to"] == "adv2@x.test"]
    assert len(to_new) == 1 and p.case_id in to_new[0]["payload"]["subject"]


def test_an_older_or_replayed_update_never_moves_it_back(world: dict[str, Any]) -> None:  # noqa: F811
    ing, db = world["ing"], world["db"]
    p = raised()
    feed(ing, p)
    feed(ing, updated(p, "adv-3", T0 + timedelta(minutes=5), previous="adv-2"))
    feed(ing, updated(p, "adv-2", T0))  # late, older: ignored
    doc = db["alerts"].find_one({"_id": p.alert_id})
    assert doc["advocate_id"] == "adv-3"
    assert [h["advocate_id"] for h in doc["history"] if h["action"] == "reassigned"] == ["adv-3"]


def test_evidence_changes_without_a_new_advocate_update_the_summary(world: dict[str, Any]) -> None:  # noqa: F811
    ing, db = world["ing"], world["db"]
    p = raised()
    feed(ing, p)
    feed(ing, updated(p, "adv-1", T0, previous=None, summary="psychosocial session overdue", changed=["evidence"]))
    doc = db["alerts"].find_one({"_id": p.alert_id})
    assert doc["advocate_id"] == "adv-1" and doc["summary"] == "psychosocial session overdue"
    assert [h["changed"] for h in doc["history"] if h["action"] == "updated"] == [["evidence"]]
    assert ("updated", p.alert_id) in world["changes"]


def test_a_resolved_alert_stays_with_the_advocate_who_had_it(world: dict[str, Any]) -> None:  # noqa: F811
    ing, db = world["ing"], world["db"]
    p = raised()
    feed(ing, p)
    feed(
        ing,
        AlertResolved(
            case_id=p.case_id, alert_id=p.alert_id, rule=p.rule, episode=1, auto=True, reason="done", resolved_at=T0
        ),
    )
    feed(ing, updated(p, "adv-2", T0 + timedelta(seconds=1)))
    assert db["alerts"].find_one({"_id": p.alert_id})["advocate_id"] == "adv-1"


def test_the_alerts_topic_accepts_the_update_fact() -> None:
    p = raised()
    record: Any = type("R", (), {"value": encode(new_event(updated(p, "adv-2", T0))), "key": b"k"})()
    event = AlertIngestor.decode(record)
    assert event.type == "centinela.alert.updated"
    assert decode(record.value).payload.advocate_id == "adv-2"
