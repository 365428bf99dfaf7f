"""The alerts service applies and notifies its own changes where it makes them (no round trip
through the ``alerts`` topic), and a crash between a change and its notifications loses none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mongomock
import pytest
import yaml

from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.domain.page_cursor import CursorCodec
from services.alerts.service.escalation import Escalator
from services.alerts.service.inbox import Inbox
from services.alerts.service.ingest import SWEEP_GRACE, AlertIngestor, Notifier
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import DirectoryRepository, JobRepository, SubscriptionRepository
from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.auth import Principal
from shared.events import decode, encode, new_event
from tests.support import alert_raised


class World:
    def __init__(self, tmp_path: Path) -> None:
        doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
        doc["escalation"] = {"critical": "10min", "high": "10min"}
        policy_path = tmp_path / "policy.yaml"
        policy_path.write_text(yaml.safe_dump(doc))
        db: Any = mongomock.MongoClient(tz_aware=True)["t"]
        self.db = db
        self.settings = AlertsSettings(escalation_max_level=1)
        self.policy = EscalationPolicy(policy_path)
        self.alerts = AlertRepository(self.db["alerts"])
        self.jobs = JobRepository(self.db["jobs"])
        directory = DirectoryRepository(self.db["directory"])
        subscriptions = SubscriptionRepository(self.db["subscriptions"])
        self.changes: list[tuple[str, str]] = []
        self.notifier = Notifier(self.settings, directory, subscriptions, self.jobs, self.policy)
        self.inbox = Inbox(
            self.alerts, self.notifier, CursorCodec(b"k"), on_change=lambda c, d: self.changes.append((c, d["_id"]))
        )
        self.ingestor = AlertIngestor(
            self.settings, self.alerts, directory, subscriptions, self.jobs, self.policy,
            on_change=lambda c, d: self.changes.append((c, d["_id"])), on_jobs=lambda: None, notifier=self.notifier,
        )  # fmt: skip
        db["directory"].insert_one({"_id": "sup-1", "email": "s@x.test", "org_id": "org-1", "role": "supervisor"})
        db["subscriptions"].insert_one({"_id": "sub_1", "url": "http://r.test", "secret": "s" * 16, "rules": []})


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_acknowledge_is_applied_and_notified_here_and_not_consumed_back(world: World) -> None:
    raised = alert_raised(org="org-1", advocate="adv-1", case_id="case-1", severity="high")
    world.ingestor.apply(decode(encode(new_event(raised))))
    adv = Principal(sub="adv-1", roles=frozenset({"legal_advocate"}), org="org-1")
    after = world.inbox.acknowledge(adv, raised.alert_id, "a comment")
    assert after["status"] == "acknowledged"
    assert world.jobs.get(f"webhook:sub_1:{raised.alert_id}:acknowledged") is not None
    stored = world.db["alerts"].find_one({"_id": raised.alert_id})
    assert stored["notify"] == [] and "notify_since" not in stored  # queued at once, nothing left pending
    [entry] = stored["outbox"]  # the fact still goes to the topic for whoever else reads it
    fact = decode(entry["value"].encode())
    # the consumer skips it: applying it again would find nothing to change and nothing to queue
    before = world.db["jobs"].count_documents({})
    world.ingestor.handle(None, fact)
    assert world.db["jobs"].count_documents({}) == before
    assert world.changes.count(("acknowledged", raised.alert_id)) == 1


def test_notifications_left_by_a_crash_are_queued_by_the_sweep(world: World) -> None:
    raised = alert_raised(
        org="org-1", advocate="adv-1", severity="critical", raised_at=datetime.now(UTC) - timedelta(minutes=11)
    )
    world.ingestor.apply(decode(encode(new_event(raised))))
    # an escalator without a notifier stands for a process that died right after its write
    dying = Escalator(world.settings, world.alerts, world.policy, on_change=lambda c, d: None, on_outbox=lambda: None)
    assert [e.level for e in dying.tick()] == [1]
    stored = world.db["alerts"].find_one({"_id": raised.alert_id})
    assert len(stored["notify"]) == 1 and stored["notify_since"] is not None
    assert world.jobs.get(f"email:{raised.alert_id}:escalated-1:sup-1") is None
    # too fresh for the sweep: the writer may still be queuing them
    assert world.notifier.sweep(world.alerts, datetime.now(UTC)) == 0
    assert world.notifier.sweep(world.alerts, datetime.now(UTC) + SWEEP_GRACE + timedelta(seconds=1)) == 1
    assert world.jobs.get(f"email:{raised.alert_id}:escalated-1:sup-1") is not None
    assert world.jobs.get(f"webhook:sub_1:{raised.alert_id}:escalated-1") is not None
    stored = world.db["alerts"].find_one({"_id": raised.alert_id})
    assert stored["notify"] == [] and "notify_since" not in stored
