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


# -- only finished records are acked, and commits stop before an unfinished one (transport point 3)


def acking_consumer(committed: int | None = None, base: int | None = None) -> Any:
    from collections import defaultdict
    from weakref import WeakSet

    c: Any = object.__new__(RewindingConsumer)
    c.app = SimpleNamespace(
        conf=SimpleNamespace(consumer_auto_offset_reset="earliest"),
        tables=SimpleNamespace(changelog_topics={CHANGELOG}),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: topic != CHANGELOG),
    )
    c._acked = defaultdict(list)
    c._acked_index = defaultdict(set)
    c._committed_offset = defaultdict(lambda: None)
    c._unacked_messages = WeakSet()
    c._n_acked = 0
    c._committed_offset[TP_SRC] = committed
    if base is not None:
        c.bases[TP_SRC] = base
    return c


def message(offset: int, tp: TP = TP_SRC) -> Any:
    from faust.types.tuples import ConsumerMessage

    return ConsumerMessage(tp.topic, tp.partition, offset, 0.0, 0, None, b"k", b"v", None, tp=tp)


def test_a_record_faust_skipped_is_released_but_not_acked() -> None:
    c = acking_consumer(committed=10)
    done, skipped = message(10), message(11)
    c._unacked_messages.update({done, skipped})
    c.finished(done)
    assert done.ack(c) is True  # what the stream does after the agent's iteration
    assert skipped.ack(c) is False  # what the stream does with a record it skipped in a rebalance
    assert skipped.acked and skipped not in c._unacked_messages  # nobody waits for it at shutdown
    assert c._acked[TP_SRC] == [10]


def test_the_commit_stops_before_the_first_unfinished_record() -> None:
    c = acking_consumer(committed=10)
    for offset in (10, 11, 13, 14):  # 12 was skipped by faust
        m = message(offset)
        c.finished(m)
        m.ack(c)
    assert c._new_offset(TP_SRC) == 12  # the next read starts at 12
    c._committed_offset[TP_SRC] = 12
    assert c._new_offset(TP_SRC) is None  # 12 is still not done: nothing to commit
    again = message(12)  # the re-read after the rebalance's seek
    c.finished(again)
    again.ack(c)
    assert c._new_offset(TP_SRC) == 15


def test_an_unfinished_record_at_the_committed_offset_blocks_the_commit() -> None:
    # faust's own check (``min(acked) - committed > 1``) lets exactly this one through
    c = acking_consumer(committed=20)
    for offset in (21, 22):
        m = message(offset)
        c.finished(m)
        m.ack(c)
    assert c._new_offset(TP_SRC) is None


def test_a_never_committed_partition_commits_from_where_it_was_rewound() -> None:
    c = acking_consumer(committed=None, base=0)
    for offset in (1, 2):
        m = message(offset)
        c.finished(m)
        m.ack(c)
    assert c._new_offset(TP_SRC) is None  # offset 0 is not done
    c2 = acking_consumer(committed=None, base=1)
    for offset in (1, 2):
        m = message(offset)
        c2.finished(m)
        m.ack(c2)
    assert c2._new_offset(TP_SRC) == 3


def test_next_commit_passes_over_ranges_the_broker_no_longer_has() -> None:
    from services.processor.transport import next_commit

    assert next_commit([3, 4, 5, 7], 3) == (6, 3)
    assert next_commit([4, 5], 3) == (None, 0)
    assert next_commit([1, 2, 3, 4], 3) == (5, 4)  # 1 and 2 are stale: already committed
    assert next_commit([5, 6], None) == (None, 0)  # where the partition starts is unknown: no commit
    assert next_commit([7, 8], 3, gone=[(3, 7)]) == (9, 2)  # 3..6 deleted by retention


def test_a_partition_whose_start_is_unknown_is_not_committed() -> None:
    # a rebalance forgets the committed offset of revoked partitions; a record finished meanwhile
    # must not become the new committed offset (faust's check would commit 417 here)
    c = acking_consumer(committed=None)
    m = message(416)
    c.finished(m)
    m.ack(c)
    assert c._new_offset(TP_SRC) is None


def test_changelog_records_are_acked_as_faust_does() -> None:
    c = acking_consumer()
    m = message(5, TP(CHANGELOG, 1))
    m.ack(c)
    assert m.acked and not c._acked  # faust does not ack changelogs (no acks enabled): unchanged


# -- emptied stream buffers: seek back to the first unfinished record (transport point 5)


def test_emptying_the_buffers_tells_the_consumer() -> None:
    from services.processor.transport import NotifyingFlowControl

    told: list[bool] = []
    flow = NotifyingFlowControl(on_clear=lambda: told.append(True))
    flow.resume()  # faust's end of a rebalance: resume empties every buffer too
    flow.clear()  # faust's start of a rebalance
    assert told == [True, True]


def test_the_first_unfinished_offset_follows_the_finished_run() -> None:
    c = acking_consumer(committed=200)
    assert c.resume_offset(TP_SRC) == 200
    for offset in (200, 201, 205):
        m = message(offset)
        c.finished(m)
        m.ack(c)
    assert c.resume_offset(TP_SRC) == 202  # 202..204 were handed over, then the buffer was emptied
    assert c._acked[TP_SRC] == [200, 201, 205]  # asking does not consume anything
    assert acking_consumer(committed=None).resume_offset(TP_SRC) is None  # mid-rebalance: unknown


def test_cleared_buffers_seek_back_only_partitions_handed_over_past_their_first_unfinished_record() -> None:
    c = acking_consumer(committed=201)
    other = TP(SRC, 2)
    c._committed_offset[other] = 50
    sought: dict[TP, int] = {}

    async def seek(tp: TP, offset: int) -> None:
        sought[tp] = offset
        c.holes.position(tp, offset)

    c.seek = seek
    c.assignment = lambda: {TP_SRC, other, TP(CHANGELOG, 1)}
    c.holes.position(TP_SRC, 210)  # 201..209 handed over, never finished: emptied with the buffer
    c.holes.position(other, 50)  # nothing handed over on this one
    c.buffers_cleared()
    asyncio.run(c._seek_unfinished())
    assert sought == {TP_SRC: 201}
    assert c.holes.expected(TP_SRC) == 201 and not c._reseek


def test_a_jump_is_accepted_only_when_the_broker_log_starts_after_it() -> None:
    c = acking_consumer()

    async def earliest(*tps: TP) -> dict[TP, int]:
        return {tp: 120 for tp in tps}

    c.earliest_offsets = earliest
    assert asyncio.run(c._really_gone(TP_SRC, 100)) is True  # retention deleted 100..119
    assert asyncio.run(c._really_gone(TP_SRC, 150)) is False  # still there: a late copy, read again
