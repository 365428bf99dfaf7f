"""The processor's rewind fix (services.processor.transport), against a fake consumer thread.

The real proof is the two-worker SIGKILL test (tests/integration/alerts_processor/test_kill_worker.py);
these pin which partitions are rewound and where to.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from services.processor.transport import HoleTracker, RewindingConsumer, Transport, uncommitted

SRC = "p.case-events"
TICKS = "p.centinela-alerts-processor-ticks"
CHANGELOG = "p.centinela-alerts-processor-case-state-changelog"


class FakeThread:
    def __init__(self, committed: dict[TP, int | None], earliest: dict[TP, int], fail: bool = False) -> None:
        self.committed = committed
        self.earliest = earliest
        self.fail = fail
        self.seeks: dict[TP, int] = {}

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def earliest_offsets(self, *partitions: TP) -> dict[TP, int]:
        return {tp: self.earliest[tp] for tp in partitions}

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        if self.fail:
            raise RuntimeError("IllegalStateError: partition not assigned")
        self.seeks.update(partitions)


def consumer(thread: FakeThread, reset: str = "earliest") -> Any:
    c: Any = object.__new__(RewindingConsumer)
    c._thread = thread
    c.app = SimpleNamespace(
        conf=SimpleNamespace(consumer_auto_offset_reset=reset),
        tables=SimpleNamespace(changelog_topics={CHANGELOG}),
    )
    return c


def test_only_stream_partitions_with_nothing_committed_are_rewound() -> None:
    committed = {TP(SRC, 0): 12, TP(SRC, 1): None, TP(SRC, 2): 0, TP(TICKS, 1): None, TP(CHANGELOG, 1): None}
    assert uncommitted(committed, {CHANGELOG}) == [TP(SRC, 1), TP(SRC, 2), TP(TICKS, 1)]


def test_seek_to_committed_rewinds_uncommitted_partitions_to_the_earliest_offset() -> None:
    committed = {TP(SRC, 0): 12, TP(SRC, 1): None, TP(SRC, 2): 0, TP(CHANGELOG, 1): None}
    thread = FakeThread(committed, earliest={TP(SRC, 1): 0, TP(SRC, 2): 5})
    result = asyncio.run(consumer(thread).seek_to_committed())
    assert result == committed  # faust's bookkeeping still sees what was committed
    assert thread.seeks == {TP(SRC, 1): 0, TP(SRC, 2): 5}  # not the committed one, not the changelog


def test_nothing_to_rewind_makes_no_seek() -> None:
    thread = FakeThread({TP(SRC, 0): 3, TP(CHANGELOG, 0): None}, earliest={})
    asyncio.run(consumer(thread).seek_to_committed())
    assert thread.seeks == {}


def test_latest_reset_policy_is_respected() -> None:
    thread = FakeThread({TP(SRC, 1): None}, earliest={TP(SRC, 1): 0})
    asyncio.run(consumer(thread, reset="latest").seek_to_committed())
    assert thread.seeks == {}


def test_a_failed_rewind_is_logged_not_raised(caplog: Any) -> None:
    thread = FakeThread({TP(SRC, 1): None}, earliest={TP(SRC, 1): 0}, fail=True)
    result = asyncio.run(consumer(thread).seek_to_committed())
    assert result == {TP(SRC, 1): None}
    assert "could not rewind" in caplog.text


def test_the_processor_app_uses_the_rewinding_transport() -> None:
    from services.processor.app import app

    assert isinstance(app.transport, Transport)
    assert app.transport.Consumer is RewindingConsumer


# -- the hole rule of RewindingConsumer._drain_messages (HoleTracker)

TP_SRC = TP(SRC, 1)


def test_records_in_order_are_delivered() -> None:
    h = HoleTracker()
    h.position(TP_SRC, 10)
    for offset in (10, 11, 12):
        assert h.check(TP_SRC, offset) == HoleTracker.DELIVER
        h.delivered(TP_SRC, offset)
    assert h.expected(TP_SRC) == 13 and h.holes == 0


def test_a_record_after_a_hole_rewinds_to_the_hole_once() -> None:
    h = HoleTracker()
    h.position(TP_SRC, 10)
    assert h.check(TP_SRC, 10) == HoleTracker.DELIVER
    h.delivered(TP_SRC, 10)
    assert h.check(TP_SRC, 15) == HoleTracker.REWIND  # 11..14 were fetched and dropped
    assert h.expected(TP_SRC) == 11 and h.holes == 1
    h.position(TP_SRC, 11)  # the consumer seeks back
    assert h.check(TP_SRC, 11) == HoleTracker.DELIVER
    h.delivered(TP_SRC, 11)
    assert h.check(TP_SRC, 11) == HoleTracker.DROP  # a re-read of what was delivered


def test_a_hole_the_broker_cannot_fill_is_accepted_the_second_time() -> None:
    h = HoleTracker()
    h.position(TP_SRC, 0)
    assert h.check(TP_SRC, 5) == HoleTracker.REWIND
    h.position(TP_SRC, 0)
    assert h.check(TP_SRC, 5) == HoleTracker.DELIVER  # retention deleted 0..4: do not block the partition
    h.delivered(TP_SRC, 5)
    assert h.holes == 1


def test_unknown_position_accepts_the_first_record_and_revoked_partitions_are_forgotten() -> None:
    h = HoleTracker()
    assert h.check(TP_SRC, 42) == HoleTracker.DELIVER
    h.delivered(TP_SRC, 42)
    h.forget({TP_SRC})
    assert h.expected(TP_SRC) is None
    h.position(TP_SRC, None)
    assert h.check(TP_SRC, 7) == HoleTracker.DELIVER
