"""The store's counts and polls on the real database, without a count command: the local database
server answers ``count`` (and ``count_documents``' aggregate) by reading every document of the
collection, so the escalation tick's gauge and the inbox's ``total`` read through an index instead,
and give the same numbers. The snooze poll's partial index, and the start-up that retires the old one."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.documents import AlertDoc, ensure_indexes
from tests.integration.alerts_service.conftest import repository

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


class Commands(monitoring.CommandListener):
    """The names of the commands a client sent."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.find_filters: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.names.append(event.command_name)
        if event.command_name == "find":
            self.find_filters.append(dict(event.command["filter"]))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture(scope="module")
def database(stack_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    name = db_name("alerts_reads")
    with repository(stack_env, name):  # connects mongoengine and makes the indexes
        yield stack_env["CENTINELA_MONGO_URI"], name


@pytest.fixture()
def watched(database: tuple[str, str]) -> Iterator[tuple[AlertRepository, Commands]]:
    """A repository on its own client, whose commands are recorded."""
    uri, name = database
    commands = Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(uri, event_listeners=[commands])
    try:
        yield AlertRepository(client[name]["alerts"]), commands
    finally:
        client.close()


def alert(**fields: Any) -> dict[str, Any]:
    return {
        "_id": f"al_{uuid.uuid4().hex[:12]}",
        "case_id": f"case-{uuid.uuid4().hex[:6]}",
        "rule": "service.overdue",
        "severity": "high",
        "status": "open",
        "escalation_level": 0,
        "raised_at": NOW - timedelta(minutes=5),
        **fields,
    }


def test_unresolved_per_severity_is_counted_without_a_count_command(
    watched: tuple[AlertRepository, Commands],
) -> None:
    repo, commands = watched
    before = repo.open_counts()
    docs = [alert(severity="critical", status=s) for s in ("open", "acknowledged", "snoozed", "resolved")]
    docs += [alert(severity="low", status="open"), alert(severity="low", status="resolved")]
    repo.coll.insert_many(docs)
    commands.names.clear()
    after = repo.open_counts()
    assert {k: after[k] - before[k] for k in after} == {"critical": 3, "high": 0, "medium": 0, "low": 1}
    assert commands.names == ["find"], commands.names  # no count, no aggregate: one indexed read


def test_the_total_counts_each_alert_of_the_scope_once_without_a_count_command(
    watched: tuple[AlertRepository, Commands],
) -> None:
    repo, commands = watched
    adv, org, other = (f"{p}-{uuid.uuid4().hex[:6]}" for p in ("adv", "org", "adv"))
    case = f"case-{uuid.uuid4().hex[:6]}"
    mine = [alert(advocate_id=adv, org_id=org, status=s) for s in ("open", "open", "resolved")]
    mine.append(alert(advocate_id=adv, org_id=org, case_id=case, severity="low"))
    colleague = [alert(advocate_id=other, org_id=org, case_id=case), alert(advocate_id=other, org_id=org)]
    elsewhere = [alert(advocate_id=adv, org_id="elsewhere-" + org)]  # still the advocate's own
    repo.coll.insert_many(mine + colleague + elsewhere)
    commands.names.clear()

    def total(scope: dict[str, Any], filters: dict[str, Any]) -> int | None:
        return repo.page(scope, filters, 2, with_total=True, now=NOW)[2]

    assert total({"advocate_id": adv}, {}) == 5
    assert total({"advocate_id": adv}, {"status": "open"}) == 4
    assert total({"advocate_id": adv}, {"status": "open", "severity": "low"}) == 1
    assert total({"org_id": org}, {}) == 6
    assert total({"org_id": org}, {"case_id": case}) == 2
    assert total({"advocate_id": adv}, {"case_id": case}) == 1
    # an advocate who is also the organisation's supervisor: their own alerts are in both clauses, once
    assert total({"$or": [{"advocate_id": adv}, {"org_id": org}]}, {}) == 7
    assert total({"$or": [{"advocate_id": adv}, {"org_id": org}]}, {"status": "resolved"}) == 1
    assert total({"advocate_id": "nobody-" + adv}, {}) == 0
    assert "count" not in commands.names and "aggregate" not in commands.names, commands.names
    # and asked for nothing, nothing is counted
    assert repo.page({"advocate_id": adv}, {}, 2, now=NOW)[2] is None


def test_snoozes_that_are_over_end_and_the_others_stay(database: tuple[str, str]) -> None:
    uri, name = database
    client: MongoClient[dict[str, Any]] = MongoClient(uri)
    try:
        repo = AlertRepository(client[name]["alerts"])
        over = alert(status="snoozed", snoozed_until=NOW - timedelta(minutes=1))
        later = alert(status="snoozed", snoozed_until=NOW + timedelta(hours=1))
        acknowledged = alert(status="acknowledged", snoozed_until=NOW - timedelta(hours=1))  # snoozed before
        repo.coll.insert_many([over, later, acknowledged])
        woken = {d["_id"] for d in repo.wake_snoozed(NOW)}
        assert over["_id"] in woken
        assert later["_id"] not in woken and acknowledged["_id"] not in woken
        assert repo.get(over["_id"])["status"] == "open"  # type: ignore[index]
        assert repo.get(later["_id"])["status"] == "snoozed"  # type: ignore[index]
        assert repo.get(acknowledged["_id"])["status"] == "acknowledged"  # type: ignore[index]
    finally:
        client.close()


def test_start_up_retires_the_old_snooze_index(database: tuple[str, str]) -> None:
    coll = AlertDoc._get_collection()
    coll.create_index([("status", 1), ("snoozed_until", 1)])  # what an earlier version made
    assert "status_1_snoozed_until_1" in coll.index_information()
    ensure_indexes()
    ensure_indexes()  # again: nothing left to drop is not an error
    indexes = coll.index_information()
    assert "status_1_snoozed_until_1" not in indexes
    assert indexes["snoozed_until_1"]["partialFilterExpression"] == {"status": "snoozed"}


def test_queued_notifications_leave_the_alert_with_their_marker_in_one_update(
    watched: tuple[AlertRepository, Commands],
) -> None:
    repo, commands = watched
    entry = {"kind": "escalated-1", "event_id": "ev-a", "value": "{}", "at": NOW}
    lone = alert(notify=[entry], notify_since=NOW)
    raced = alert(notify=[entry, {**entry, "event_id": "ev-b"}], notify_since=NOW)
    repo.coll.insert_many([lone, raced])
    commands.names.clear()
    repo.notified(lone["_id"], ["ev-a"])
    assert commands.names == ["update"]  # the usual case: one round trip
    doc = repo.coll.find_one({"_id": lone["_id"]})
    assert doc is not None and doc["notify"] == [] and "notify_since" not in doc
    # a change pushed another notification meanwhile: it stays, and so does the marker the sweep finds it by
    repo.notified(raced["_id"], ["ev-a"])
    doc = repo.coll.find_one({"_id": raced["_id"]})
    assert doc is not None and [e["event_id"] for e in doc["notify"]] == ["ev-b"] and "notify_since" in doc
    assert raced["_id"] in {d["_id"] for d in repo.pending_notifications(NOW + timedelta(seconds=1))}
    repo.notified(raced["_id"], ["ev-b"])
    doc = repo.coll.find_one({"_id": raced["_id"]})
    assert doc is not None and not doc.get("notify") and "notify_since" not in doc
    assert raced["_id"] not in {d["_id"] for d in repo.pending_notifications(NOW + timedelta(seconds=1))}


def test_the_inbox_window_remembered_is_about_what_a_page_spans(watched: tuple[AlertRepository, Commands]) -> None:
    """The database reads every alert of a window before it sorts and limits: a scope's next page starts
    with a window about as long as its last page took (not the x2..x8 wider one that found it)."""
    repo, commands = watched
    adv = f"adv-{uuid.uuid4().hex[:6]}"
    docs = [alert(advocate_id=adv, raised_at=NOW - timedelta(minutes=i)) for i in range(300)]  # one a minute
    repo.coll.insert_many(docs)
    first, more, _ = repo.page({"advocate_id": adv}, {}, 50, now=NOW)
    shown = [(d["raised_at"].replace(tzinfo=UTC), d["_id"]) for d in first]
    assert more and shown == [(d["raised_at"], d["_id"]) for d in docs[:50]]
    (hint,) = [w for k, w in repo._window_hints.items() if adv in k]
    assert timedelta(minutes=50) <= hint <= timedelta(minutes=50) * 1.3, hint  # the 51st alert is 50 min old
    commands.names.clear()
    again, _, _ = repo.page({"advocate_id": adv}, {}, 50, now=NOW)
    assert [d["_id"] for d in again] == [d["_id"] for d in first]
    assert commands.names == ["find"]  # the remembered window fills the page in one read


def test_an_alert_raised_exactly_at_the_edge_of_a_window_is_in_the_inbox(
    watched: tuple[AlertRepository, Commands],
) -> None:
    """The first window reaches back 10 minutes, the next ones x2..x8 further: an alert at exactly
    such an edge is served once, like its neighbours (the local server's descending index read
    ``raised_at >= edge`` as ``> edge`` and the page skipped it)."""
    repo, _ = watched
    adv = f"adv-{uuid.uuid4().hex[:6]}"
    docs = [alert(advocate_id=adv, raised_at=NOW - timedelta(minutes=m)) for m in (0, 9, 10, 11, 80, 90, 160)]
    repo.coll.insert_many(docs)
    page, more, _ = repo.page({"advocate_id": adv}, {}, 50, now=NOW)
    assert [d["_id"] for d in page] == [d["_id"] for d in docs] and not more


def test_a_change_is_a_conditional_update_and_a_read_by_id_never_find_and_modify(
    watched: tuple[AlertRepository, Commands],
) -> None:
    """The local server's findAndModify reads the whole collection on every call (slower the more alerts
    are stored); a conditional update and a read by id stay flat, with the same one-winner guarantee."""
    repo, commands = watched
    doc = alert(version=0)
    repo.coll.insert_one(doc)
    history = {"at": NOW, "action": "acknowledged", "by": "adv-x"}
    commands.names.clear()
    after = repo.transition(doc["_id"], ("open", "snoozed"), {"status": "acknowledged"}, history, [])
    assert after is not None and after["status"] == "acknowledged" and after["version"] == 1
    assert after["history"][-1]["action"] == "acknowledged" and "outbox" not in after
    assert commands.names == ["update", "find"], commands.names
    commands.names.clear()  # not allowed from acknowledged: nothing changes, nothing is read back
    assert repo.transition(doc["_id"], ("open", "snoozed"), {"status": "acknowledged"}, history, []) is None
    assert commands.names == ["update"], commands.names
    assert repo.coll.find_one({"_id": doc["_id"]})["version"] == 1  # type: ignore[index]


def test_one_alert_is_read_by_id_alone_and_the_scope_checked_on_it(watched: tuple[AlertRepository, Commands]) -> None:
    """``GET /v1/alerts/{id}`` and every action load the alert by id; ``{$and: [{_id}, scope]}`` made the
    local server read the whole collection. Out of scope is still "not found"."""
    repo, commands = watched
    doc = alert(advocate_id="adv-get", org_id="org-get")
    repo.coll.insert_one(doc)
    commands.find_filters.clear()
    assert repo.get(doc["_id"], {"advocate_id": "adv-get"}) is not None
    assert repo.get(doc["_id"], {"org_id": "org-get"}) is not None
    assert repo.get(doc["_id"], {"$or": [{"advocate_id": "someone"}, {"org_id": "org-get"}]}) is not None
    assert repo.get(doc["_id"], {"advocate_id": "someone"}) is None
    assert repo.get(doc["_id"], {"$or": [{"advocate_id": "someone"}, {"org_id": "elsewhere"}]}) is None
    assert repo.get("al_missing", {"advocate_id": "adv-get"}) is None
    assert repo.get(doc["_id"]) is not None  # no scope: the service's own reads
    assert commands.find_filters == [{"_id": doc["_id"]}] * 5 + [{"_id": "al_missing"}, {"_id": doc["_id"]}]
