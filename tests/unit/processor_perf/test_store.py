"""The case-state table's RocksDB store (services.processor.store): the changelog first, then the
local database with the offset, so a worker's disk is never ahead of the changelog."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from services.processor import tables
from services.processor.store import CaseStore, CaseTable


class Sends:
    """send_changelog replaced: records each send and hands back a future the test resolves."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, bytes]] = []
        self.futures: dict[str, asyncio.Future[Any]] = {}

    def __call__(self, partition: int, key: str, value: bytes) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((partition, key, value))
        self.futures[key] = future
        return future

    def ack(self, key: str, offset: int) -> None:
        self.futures[key].set_result(SimpleNamespace(offset=offset))


@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CaseTable:
    table = tables.case_state
    store = table.store
    monkeypatch.setattr(store, "partition_path", lambda partition: tmp_path / f"case-state-{partition}.db")
    monkeypatch.setattr(store, "_dbs", {})
    return table


def offset(store: CaseStore, table: CaseTable, partition: int) -> int | None:
    return store.persisted_offset(TP(table.changelog_topic.get_topic_name(), partition))


async def test_states_reach_the_local_database_only_after_the_broker_acknowledged_them(
    table: CaseTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends = Sends()
    monkeypatch.setattr(table, "send_changelog", sends)
    writing = asyncio.create_task(table.write({"c-1": (2, b"one"), "c-2": (2, b"two"), "c-3": (4, b"three")}))
    await asyncio.sleep(0)
    assert [(p, k) for p, k, _ in sends.sent] == [(2, "c-1"), (2, "c-2"), (4, "c-3")]
    assert table.read(2, "c-1") is None  # sent, not acknowledged: nothing on disk yet
    sends.ack("c-1", 41)
    sends.ack("c-2", 42)
    sends.ack("c-3", 7)
    await writing
    assert table.read(2, "c-1") == b"one" and table.read(4, "c-3") == b"three"
    # each partition's database holds the offset it is current to, written with the states
    assert offset(table.store, table, 2) == 42 and offset(table.store, table, 4) == 7
    assert sorted(table.scan({2, 4})) == [(2, "c-1", b"one"), (2, "c-2", b"two"), (4, "c-3", b"three")]
    assert list(table.scan({3})) == []


async def test_a_send_the_broker_refuses_leaves_the_local_database_untouched(
    table: CaseTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    sends = Sends()
    monkeypatch.setattr(table, "send_changelog", sends)
    writing = asyncio.create_task(table.write({"c-9": (1, b"nine")}))
    await asyncio.sleep(0)
    sends.futures["c-9"].set_exception(ConnectionError("broker down"))
    with pytest.raises(ConnectionError):
        await writing
    assert table.read(1, "c-9") is None and offset(table.store, table, 1) is None


def test_faust_s_own_offset_callback_is_off(table: CaseTable) -> None:
    # faust records the offset when a send completes, ahead of the data in its own store; here the
    # offset is written only with the states (test above), so the callback must do nothing
    sent: Any = SimpleNamespace(result=lambda: SimpleNamespace(topic_partition=TP("x", 0), offset=9))
    table._on_changelog_sent(sent)
    assert offset(table.store, table, 0) is None


def test_standby_lag_counts_what_the_copies_still_have_to_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.processor import timers

    a, b = TP("changelog", 3), TP("changelog", 4)
    recovery = SimpleNamespace(standby_tps={a, b}, standby_highwaters={a: 100, b: 50}, standby_offsets={a: 40, b: 60})
    monkeypatch.setattr(type(timers.app.tables), "recovery", property(lambda self: recovery))
    assert timers.standby_lag() == 60  # 100 - 40, and b is past its end (0)
    recovery.standby_offsets = {a: 100, b: None}  # b not read at all yet: from -1
    assert timers.standby_lag() == 51
    recovery.standby_highwaters = {a: 100}  # b's end not measured yet (just after a rebalance)
    assert timers.standby_lag() == -1
    recovery.standby_tps = set()  # a single worker has no standby copies
    assert timers.standby_lag() == 0
