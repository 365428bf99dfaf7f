"""A batch of facts from one poll: one bulk write per run of raised alerts, the order of the partition
kept, replays harmless — on the real database (bulk upserts)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.ingest import AlertIngestor
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository
from shared.events import decode, encode, new_event
from shared.events.alerts import AlertResolved
from shared.mongo import connect
from tests.integration.alerts_service.conftest import write_policy
from tests.support import alert_raised

pytestmark = pytest.mark.integration


@pytest.fixture
def world(stack_env: dict[str, str], db_name: Callable[[str], str], tmp_path: Path) -> Iterator[dict[str, Any]]:
    settings = AlertsSettings(mongo_uri=stack_env["CENTINELA_MONGO_URI"], mongo_db=db_name("alerts_batch"))
    client = connect(settings)
    db = client[settings.database]
    changes: list[tuple[str, str]] = []
    ing = AlertIngestor(
        settings,
        AlertRepository(db["alerts"]),
        DirectoryRepository(db["directory"]),
        SubscriptionRepository(db["subscriptions"]),
        JobRepository(db["jobs"]),
        EscalationPolicy(write_policy(tmp_path / "policy.yaml", {"critical": "10min"})),
        on_change=lambda c, d: changes.append((c, d["_id"])),
        on_jobs=lambda: None,
    )
    org = f"org-{uuid.uuid4().hex[:6]}"
    db["directory"].insert_one({"_id": f"adv-{org}", "email": "adv@x.test", "org_id": org, "role": "legal_advocate"})
    db["subscriptions"].insert_one({"_id": f"sub-{org}", "url": "http://r.test", "secret": "s" * 16, "org_id": org})
    yield {"db": db, "ing": ing, "changes": changes, "org": org}
    client.close()


def test_a_batch_stores_each_alert_once_and_keeps_the_order_of_the_partition(world: dict[str, Any]) -> None:
    ing, db, org = world["ing"], world["db"], world["org"]
    first = alert_raised(org=org, advocate=f"adv-{org}")
    second = alert_raised(org=org, advocate=f"adv-{org}")
    resolved = AlertResolved(case_id=first.case_id, alert_id=first.alert_id, rule=first.rule, episode=1, auto=True,
                             reason="session recorded", resolved_at=datetime.now(UTC))  # fmt: skip
    batch = [new_event(first, event_id="e1"), new_event(first, event_id="e1"), new_event(resolved),
             new_event(second), new_event(first, event_id="e3")]  # fmt: skip
    ing.apply_many([decode(encode(e)) for e in batch])
    ing.apply_many([decode(encode(e)) for e in batch])  # the whole batch again (a replay)
    ids = [first.alert_id, second.alert_id]
    assert db["alerts"].count_documents({"_id": {"$in": ids}}) == 2
    # the resolution came after the raise in the partition; the later duplicate raise changed nothing
    assert db["alerts"].find_one({"_id": first.alert_id})["status"] == "resolved"
    assert db["alerts"].find_one({"_id": second.alert_id})["status"] == "open"
    jobs = sorted(j["_id"] for j in db["jobs"].find({"payload.alert_id": {"$in": ids}}))
    emails = sorted(j["_id"] for j in db["jobs"].find({"channel": "email"}))
    assert emails == sorted(f"email:{a}:raised:adv-{org}" for a in ids)
    assert jobs == sorted(
        [f"webhook:sub-{org}:{first.alert_id}:raised", f"webhook:sub-{org}:{first.alert_id}:resolved",
         f"webhook:sub-{org}:{second.alert_id}:raised"]
    )  # fmt: skip
    assert world["changes"] == [("raised", first.alert_id), ("resolved", first.alert_id), ("raised", second.alert_id)]
