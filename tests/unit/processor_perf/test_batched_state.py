"""The agent's state writes per batch (services.processor.tables.StateWriter, agents.finish) and the
reconcile step that no longer copies the whole state (services.processor.domain.engine)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.processor import agents, tables
from services.processor.domain.engine import reconcile, step
from services.processor.domain.policy import load_policy
from services.processor.domain.rules import evaluate
from services.processor.domain.state import CaseState
from shared.events import case as ce
from shared.events import decode, encode, new_event

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class FakeTable:
    """What StateWriter uses of services.processor.store.CaseTable: read, scan, write (changelog, then store)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.partition_of: dict[str, int] = {}
        self.changelog: list[tuple[int, str, bytes]] = []
        self.fail_sends = False

    def send_changelog(self, partition: int, key: str, value: bytes) -> None:
        if self.fail_sends:
            raise ConnectionError("broker down")
        self.changelog.append((partition, key, value))

    async def write(self, staged: dict[str, tuple[int, bytes]]) -> None:
        for key, (partition, value) in staged.items():
            self.send_changelog(partition, key, value)
        for key, (partition, value) in staged.items():
            self.data[key] = value
            self.partition_of[key] = partition

    def read(self, partition: int, key: str) -> Any:
        return self.data.get(key)

    def scan(self, partitions: set[int]) -> Any:
        where = self.partition_of
        return [(where.get(k, 0), k, v) for k, v in self.data.items() if where.get(k, 0) in partitions]


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> FakeTable:
    fake = FakeTable()
    monkeypatch.setattr(tables, "case_state", fake)
    return fake


def registered(case_id: str) -> Any:
    payload = ce.CaseRegistered(case_id=case_id, org_id="org-1", advocate_id="adv-1", registered_at=T0)
    return decode(encode(new_event(payload)))


def flagged(case_id: str, flag: str) -> Any:
    payload = ce.RiskFlagged(case_id=case_id, flag_id=flag, kind="other", severity="high", raised_at=T0)
    return decode(encode(new_event(payload)))


async def test_a_case_changed_twice_in_a_batch_is_written_once_with_its_last_state(table: FakeTable) -> None:
    writer = tables.StateWriter()
    first = step(None, registered("c-1"), T0, load_policy()).state
    writer.stage("c-1", first, 4)
    assert writer.load("c-1", 4) is first  # the next event of the batch sees the staged state
    second = step(first, flagged("c-1", "f1"), T0, load_policy()).state
    writer.stage("c-1", second, 4)
    assert table.changelog == [] and table.data == {}  # nothing written before the flush

    assert await writer.flush() == 1
    assert [(p, k) for p, k, _ in table.changelog] == [(4, "c-1")]
    stored = table.changelog[0][2]
    assert table.data["c-1"] == stored
    assert CaseState.from_bytes(tables.split(stored)[1]) == second
    assert await writer.flush() == 0  # a flush writes what was staged since the last one, once


async def test_a_failed_changelog_send_keeps_the_states_staged_and_out_of_the_store(table: FakeTable) -> None:
    writer = tables.StateWriter()
    state = step(None, registered("c-10"), T0, load_policy()).state
    writer.stage("c-10", state, 2)
    table.fail_sends = True
    with pytest.raises(ConnectionError):
        await writer.flush()
    assert table.data == {} and writer.staged == 1  # the local store is never ahead of the changelog
    assert writer.load("c-10", 2) is state
    table.fail_sends = False
    assert await writer.flush() == 1
    assert table.data["c-10"] == table.changelog[0][2]


def test_a_state_is_read_back_from_the_table_bytes_and_from_an_older_json_object(table: FakeTable) -> None:
    state = step(None, registered("c-2"), T0, load_policy()).state
    table.data["c-2"] = state.model_dump_json().encode()
    table.data["c-3"] = json.loads(state.model_copy(update={"case_id": "c-3"}).model_dump_json())
    writer = tables.StateWriter()
    assert writer.load("c-2", 0) == state
    assert writer.load("c-3", 0) is not None and writer.load("c-3", 0).case_id == "c-3"  # type: ignore[union-attr]
    assert writer.load("c-missing", 0) is None


def test_forget_drops_parsed_states_so_a_recovered_table_is_read_again(table: FakeTable) -> None:
    writer = tables.StateWriter()
    old = step(None, registered("c-4"), T0, load_policy()).state
    table.data["c-4"] = old.model_dump_json().encode()
    assert writer.load("c-4", 0) == old
    newer = step(old, flagged("c-4", "f1"), T0, load_policy()).state
    table.data["c-4"] = newer.model_dump_json().encode()  # what recovery from the changelog does
    writer.forget()
    assert writer.load("c-4", 0) == newer


def test_the_parsed_cases_kept_are_bounded(table: FakeTable) -> None:
    writer = tables.StateWriter(live_cases=2)
    for i in range(3):
        state = step(None, registered(f"c-{i}"), T0, load_policy()).state
        table.data[f"c-{i}"] = state.model_dump_json().encode()
        writer.load(f"c-{i}", 0)
    assert len(writer._live) == 2 and "c-0" not in writer._live
    assert writer.load("c-0", 0) is not None  # parsed again from the table


def test_deadlines_include_staged_states_not_yet_in_the_table(table: FakeTable) -> None:
    writer = tables.StateWriter()
    policy = load_policy()
    stored = step(None, registered("c-5"), T0, policy).state
    table.data["c-5"] = stored.model_dump_json().encode()  # no header: evaluated
    table.partition_of["c-5"] = 1
    due = T0 + timedelta(days=3)
    staged = step(stored, flagged("c-5", "f1"), T0, policy).state
    writer.stage("c-5", staged, 1, due, "fp")
    fresh = step(None, registered("c-6"), T0, policy).state
    writer.stage("c-6", fresh, 2, due + timedelta(days=1), "fp")
    writer.stage("c-7", fresh, 3, due, "fp")  # a partition not asked for
    got = {d.case_id: (d.due, d.partition) for d in writer.deadlines({1, 2}, T0, policy, "fp")}
    assert got == {"c-5": (due, 1), "c-6": (due + timedelta(days=1), 2)}
    # staged under another policy: evaluated now, not trusted
    writer.stage("c-6", fresh, 2, due + timedelta(days=1), "fp-old")
    dues = {d.case_id: d.due for d in writer.deadlines({2}, T0, policy, "fp")}
    assert dues["c-6"] == tables.due_for(fresh, T0, policy)


def test_a_stored_header_gives_the_deadline_without_evaluating_the_case(
    table: FakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    policy = load_policy()
    state = step(None, registered("c-11"), T0, policy).state
    due = datetime(2026, 3, 9, 9, 0, 0, 123000, tzinfo=UTC)
    table.data["c-11"] = tables.stored(state, due, "fp-now")
    table.data["c-12"] = tables.stored(state.model_copy(update={"case_id": "c-12"}), None, "fp-now")
    evaluated: list[str] = []

    def due_for(st: CaseState, t: datetime, p: Any) -> datetime:
        evaluated.append(st.case_id)
        return t

    monkeypatch.setattr(tables, "due_for", due_for)
    writer = tables.StateWriter()
    got = {d.case_id: d.due for d in writer.deadlines({0}, T0, policy, "fp-now")}
    assert got == {"c-11": due, "c-12": None} and evaluated == []
    # written under another policy or rule code: the case is evaluated again
    got = {d.case_id: d.due for d in writer.deadlines({0}, T0, policy, "fp-other")}
    assert got == {"c-11": T0, "c-12": T0} and sorted(evaluated) == ["c-11", "c-12"]
    assert writer.load("c-11", 0) == state  # the header never reaches the state


def test_the_header_round_trips_and_older_values_have_none() -> None:
    state = step(None, registered("c-13"), T0, load_policy()).state
    value = tables.stored(state, T0, "abc")
    header, body = tables.split(value)
    assert header == tables.Header(T0, "abc") and CaseState.from_bytes(body) == state
    assert tables.split(state.to_bytes()) == (None, state.to_bytes())


def test_the_fingerprint_follows_the_policy() -> None:
    policy = load_policy()
    same = tables.policy_fingerprint(load_policy())
    assert tables.fingerprint(policy) == same and tables.fingerprint(policy) == same  # cached per object
    assert tables.policy_fingerprint(policy) == same
    rules = dict(policy.rules)
    rule_id = next(iter(rules))
    rules[rule_id] = rules[rule_id].__class__(**{**rules[rule_id].__dict__, "enabled": not rules[rule_id].enabled})
    assert tables.policy_fingerprint(policy.__class__(**{**policy.__dict__, "rules": rules})) != same


class FakeStream:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    async def ack(self, event: Any) -> bool:
        self.calls.append(f"ack {event.message.offset}")
        return True


class FakeConsumer:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def finished(self, message: Any) -> None:
        self.calls.append(f"finished {message.offset}")


class FakeEvent:
    def __init__(self, offset: int) -> None:
        self.message = type("M", (), {"offset": offset})()


async def test_records_are_finished_only_after_their_states_are_written(
    table: FakeTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    writer = tables.StateWriter()
    monkeypatch.setattr(agents, "states", writer)
    monkeypatch.setattr(agents.app, "_consumer", FakeConsumer(calls), raising=False)
    monkeypatch.setattr(type(agents.app), "consumer", property(lambda self: self._consumer))
    real_send = table.send_changelog

    def send(partition: int, key: str, value: bytes) -> None:
        calls.append(f"changelog {key}")
        real_send(partition, key, value)

    monkeypatch.setattr(table, "send_changelog", send)
    writer.stage("c-7", step(None, registered("c-7"), T0, load_policy()).state, 0, None)
    pending: list[Any] = [(FakeEvent(10), "case-events"), (FakeEvent(11), "case-events")]
    await agents.finish(FakeStream(calls), pending)
    assert calls == ["changelog c-7", "finished 10", "ack 10", "finished 11", "ack 11"]
    assert pending == []


def test_reconcile_hands_back_the_same_state_when_nothing_changes() -> None:
    policy = load_policy()
    state = step(None, registered("c-8"), T0, policy).state
    results = evaluate(state, T0 + timedelta(seconds=1), policy)
    new, out = reconcile(state, results, T0 + timedelta(seconds=1))
    assert out == [] and new is state


def test_reconcile_never_changes_the_state_it_was_given() -> None:
    policy = load_policy()
    state = step(None, registered("c-9"), T0, policy).state
    flagged_state = step(state, flagged("c-9", "f1"), T0, policy).state  # raises risk.revictimisation
    track = flagged_state.alerts["risk.revictimisation"]
    snapshot = flagged_state.model_dump()
    # a second flag: reconcile raises episode 2 on its own copy of the track
    second = step(flagged_state, flagged("c-9", "f2"), T0, policy)
    assert second.state.alerts["risk.revictimisation"].episode == 2
    assert flagged_state.model_dump() == snapshot
    assert track.episode == 1 and track.raised_signals == ["f1"]
