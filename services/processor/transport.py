"""The processor's Kafka transport: faust's aiokafka driver, fixed so that no input record is skipped.

faust-streaming 0.15 loses input records around a rebalance in two ways, both seen in the takeover
test (tests/integration/alerts_processor/test_kill_worker.py):

1. **Never-committed partitions are not rewound.** faust throws away every record a fetch returns
   while a rebalance has stopped the flow and rewinds with ``seek_to_committed``, trusting the next
   fetch to read them again. aiokafka only seeks partitions whose committed offset is above zero, so
   a partition nothing was ever committed for (its previous owner died before the first commit)
   stayed *after* the thrown-away records. ``seek_to_committed`` below moves such stream
   partitions to the earliest offset the broker keeps (what ``auto_offset_reset=earliest`` means).

2. **Holes are skipped and then committed over.** Records fetched but not handed to the agent —
   dropped because the flow stopped, the partition was paused, or the generation changed while a
   batch was being delivered — leave the fetch position *past* them. faust's delivery loop then
   sees the next record's offset jump and records the jump as a "gap" (what compaction or
   transaction markers leave), and gaps count as processed when offsets are committed. Under load
   with a rebalance this lost deadline ticks and case events for good: 14 of 1,500 cases never got
   their ``service.overdue`` (ticks present in the ticks topic, committed over; case events of a
   moved partition never processed, the partition's committed offset stuck below them).

   :meth:`RewindingConsumer._drain_messages` is faust's loop with one rule added for the
   processor's input topics (none is compacted or transactional, so their offsets are contiguous):
   it knows the next offset it must deliver per partition; a record after a hole is not delivered,
   the partition is sought back to the hole and the hole is read again. A record counts as
   delivered only when the agent's buffer took it (not when a rebalance interrupted the hand-over).
   If the broker really has nothing at the hole (its log start is past it: retention deleted it),
   the second attempt accepts the jump and logs it; otherwise it seeks back again.

3. **Records faust skips are counted as processed.** While a rebalance runs, faust's stream takes
   records out of the agent's buffer and *skips* them (flow stopped, or the record was fetched in
   an earlier consumer generation: ``faust/streams.py``, "Skipping message ... generation_id") —
   and then *acks* them ("we want to ack the filtered out message otherwise the lag would
   increase"). An acked offset is committable: the periodic commit that runs while the new
   assignment recovers its tables committed past them, and the seek that ends every rebalance
   (``perform_seek``: to the committed offsets) then started *after* them. Reproduced with the
   hole tracker above in place: 12 alerts of 6 cases lost on a moved partition (case-events
   offsets 57-74: handed to the agent's buffer, skipped, acked, committed over, never read again).
   So here an offset is acked only when the agent says it *finished* the record
   (:func:`mark_processed`, called by the agent after its handler returned); a skipped record is
   released (no longer awaited at shutdown) but not acked, and :meth:`RewindingConsumer._new_offset`
   commits only the contiguous run of finished offsets that starts exactly at the committed offset
   (faust's own check lets one unfinished record at the committed offset through).

4. **A partition whose start is unknown is committed from whatever was finished first.** A
   rebalance forgets the committed offsets of the partitions it revokes (with the eager protocol:
   all of them, kept ones included) until the seek that ends it; a record the agent finished in
   between was then the only acked offset, and faust's commit moved the partition there. Seen in
   the kill test with points 1-3 fixed: 146 alerts of 73 cases lost, case-events offsets 300-518
   of a moved partition committed up to the end yet never in the table (the only commit path left
   that can pass unread records); a traced run then showed such a commit (committed 408, one record
   finished during the rebalance, 417 committed). :func:`next_commit` commits nothing for a
   partition until its start is known again.

5. **Buffers cleared after the rebalance's seek.** faust clears every stream buffer when a
   rebalance starts *and* when it ends (``FlowControlEvent.resume``), and the seek to the committed
   offsets runs before that end. While that seek awaits the broker, the delivery loop keeps handing
   over the rest of a batch fetched earlier (table recovery has resumed the flow): those records
   were then cleared, the fetch position was already past them, and the tracker of point 2 took
   the re-fetched copies for re-reads. Seen: case-events offsets 201-209 of a moved partition
   never processed, the partition's commit stuck at 201 (point 3 held). Now every clear of the
   buffers (:class:`NotifyingFlowControl`) makes the delivery loop stop handing over and seek each
   stream partition back to the first record the agent has not finished
   (:meth:`RewindingConsumer.resume_offset`) before it hands over anything else.

Since the commit never passes an unfinished record, every rebalance ends with a seek to the
committed offsets, and every cleared buffer is followed by a seek to the first unfinished record,
everything handed over but not finished is read again.

Records read twice are harmless: the agent drops events it has already applied and alert ids are
deterministic. Changelog partitions are left alone: table recovery positions them itself.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP, Message
from faust.types.tuples import ack_lock
from mode import Service
from mode.utils.queues import FlowControlEvent

log = logging.getLogger("centinela.processor")


def uncommitted(committed: Mapping[TP, int | None], changelogs: set[str]) -> list[TP]:
    """The stream partitions that ``seek_to_committed`` left where they were (nothing above 0 committed)."""
    return sorted((tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs), key=str)


class HoleTracker:
    """Per input partition, the next offset the agent must receive; says what to do with a record.

    ``deliver``: hand it over. ``drop``: already delivered (a re-read). ``rewind``: a hole before it
    — seek back to :meth:`expected`. The second time the same hole is met the record is delivered:
    the broker has nothing there (deleted by retention), waiting would block the partition forever.
    """

    DELIVER, DROP, REWIND = "deliver", "drop", "rewind"

    def __init__(self) -> None:
        self._next: dict[TP, int] = {}
        self._rewound: dict[TP, int] = {}
        self.holes = 0

    def expected(self, tp: TP) -> int | None:
        return self._next.get(tp)

    def position(self, tp: TP, offset: int | None) -> None:
        """The consumer was sought to ``offset`` (None: unknown, accept whatever comes next)."""
        if offset is None or offset < 0:
            self._next.pop(tp, None)
        else:
            self._next[tp] = offset

    def forget(self, tps: set[TP]) -> None:
        for tp in tps:
            self._next.pop(tp, None)
            self._rewound.pop(tp, None)

    def check(self, tp: TP, offset: int) -> str:
        expected = self._next.get(tp)
        if expected is None or offset == expected:
            return self.DELIVER
        if offset < expected:
            return self.DROP
        if self._rewound.get(tp) == expected:
            log.warning(
                "input offsets %d..%d of %s are gone from the broker; continuing after them",
                expected,
                offset - 1,
                tp.topic,
                extra={"topic": tp.topic, "partition": tp.partition},
            )
            return self.DELIVER
        self._rewound[tp] = expected
        self.holes += 1
        return self.REWIND

    def delivered(self, tp: TP, offset: int) -> None:
        self._next[tp] = offset + 1
        self._rewound.pop(tp, None)


def next_commit(
    acked: list[int], start: int | None, gone: list[tuple[int, int]] | None = None
) -> tuple[int | None, int]:
    """The offset to commit for one partition, and how many leading entries of ``acked`` it used up.

    ``acked``: the finished offsets, sorted, no duplicates. ``start``: the offset the partition is
    known to continue from (the committed one, or where an uncommitted partition was rewound to).
    ``gone``: ``[from, to)`` ranges the broker no longer has (retention), passed over like finished
    records. Only the unbroken run from ``start`` counts: an unfinished record stops the commit
    before it, so the seek that ends a rebalance reads it again. None: nothing new to commit.

    An unknown ``start`` commits nothing (module doc, point 4): faust then trusts the first finished
    offset, which during a rebalance can be a record far past unread ones.
    """
    if start is None:
        return None, 0
    pos, i, n = start, 0, len(acked)
    while True:
        while i < n and acked[i] < pos:
            i += 1  # at or below what is already committed: stale
        if i < n and acked[i] == pos:
            pos += 1
            i += 1
            continue
        end = next((b for a, b in gone or () if a <= pos < b), None)
        if end is None:
            break
        pos = end
    return (pos if pos > start else None), i


class NotifyingFlowControl(FlowControlEvent):
    """faust's flow control of the stream buffers, telling ``on_clear`` each time the buffers are emptied."""

    def __init__(self, on_clear: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_clear = on_clear

    def clear(self) -> None:
        super().clear()
        self._on_clear()


class RewindingConsumer(driver.Consumer):
    _holes: HoleTracker | None = None
    _reseek: bool = False
    _finished_set: weakref.WeakSet[Message] | None = None
    _base: dict[TP, int] | None = None
    _gone: dict[TP, list[tuple[int, int]]] | None = None

    @property
    def holes(self) -> HoleTracker:
        if self._holes is None:
            self._holes = HoleTracker()
        return self._holes

    @property
    def finished_messages(self) -> weakref.WeakSet[Message]:
        if self._finished_set is None:
            self._finished_set = weakref.WeakSet()
        return self._finished_set

    @property
    def bases(self) -> dict[TP, int]:
        """Uncommitted stream partitions: the offset they were rewound to (where a commit must start)."""
        if self._base is None:
            self._base = {}
        return self._base

    @property
    def gone(self) -> dict[TP, list[tuple[int, int]]]:
        if self._gone is None:
            self._gone = {}
        return self._gone

    def buffers_cleared(self) -> None:
        """faust emptied the stream buffers: records handed over may be gone (module doc, point 5)."""
        self._reseek = True

    def resume_offset(self, tp: TP) -> int | None:
        """The first offset of ``tp`` the agent has not finished (None: not known yet)."""
        start = self._committed_offset[tp]
        if start is None:
            start = self.bases.get(tp)
        if start is None:
            return None
        offset, _ = next_commit(sorted(set(self._acked.get(tp, ()))), start, self.gone.get(tp))
        return start if offset is None else offset

    async def _seek_unfinished(self) -> None:
        self._reseek = False
        for tp in sorted(self.assignment(), key=str):
            if not self._is_stream(tp):
                continue
            offset = self.resume_offset(tp)
            if offset is None:
                continue  # mid-rebalance: the seek that ends it positions the partition
            expected = self.holes.expected(tp)
            if expected is not None and expected <= offset:
                continue  # nothing handed over past it
            try:
                await self.seek(tp, offset)
            except Exception as exc:  # the assignment changed under us: the next rebalance seeks again
                log.info("could not seek %s back after cleared buffers: %s", tp.topic, type(exc).__name__)
            else:
                _on_reseek(tp)

    async def _really_gone(self, tp: TP, offset: int) -> bool:
        """Has the broker deleted ``offset`` of ``tp`` (retention)? Only then may a jump be accepted."""
        try:
            earliest = (await self.earliest_offsets(tp)).get(tp)
        except Exception as exc:  # cannot tell: read again rather than skip
            log.info("could not read the log start of %s: %s", tp.topic, type(exc).__name__)
            return False
        return earliest is not None and earliest > offset

    def finished(self, message: Message) -> None:
        """The agent is done with ``message``: its offset may be acked (and so committed)."""
        self.finished_messages.add(message)

    def ack(self, message: Message) -> bool:
        # faust acks records its stream skipped around a rebalance as if they were processed (module
        # doc, point 3). Those are released, so that nothing waits for them, but not acked.
        if not self._is_stream(message.tp) or message in self.finished_messages:
            self.finished_messages.discard(message)
            return bool(super().ack(message))
        with ack_lock:
            if message.acked:
                return False
            message.acked = True
            self._unacked_messages.discard(message)
        _on_unfinished(message.tp)
        return False

    def _new_offset(self, tp: TP) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        acked[:] = sorted(set(acked))
        start = self._committed_offset[tp]
        if start is None:
            start = self.bases.get(tp)
        gone = self.gone.get(tp)
        offset, used = next_commit(acked, start, gone)
        if used:
            self._acked_index[tp].difference_update(acked[:used])
            del acked[:used]
        if gone and offset is not None:
            self.gone[tp] = [(a, b) for a, b in gone if b > offset]
        return offset

    def _is_stream(self, tp: TP) -> bool:
        return tp.topic not in set(self.app.tables.changelog_topics)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            if self._is_stream(tp):
                self.holes.position(tp, offset if offset else None)
                self.bases.pop(tp, None)
        if self.app.conf.consumer_auto_offset_reset != "earliest":
            return committed
        rewind = uncommitted(committed, set(self.app.tables.changelog_topics))
        if rewind:
            try:
                earliest = await self.earliest_offsets(*rewind)
                positions = {tp: earliest.get(tp) or 0 for tp in rewind}
                await self.seek_wait(positions)
            except Exception as exc:  # the assignment changed under us: the next rebalance seeks again
                log.warning("could not rewind uncommitted partitions: %s", type(exc).__name__)
            else:
                for tp, offset in positions.items():
                    self.holes.position(tp, offset)
                    self.bases[tp] = offset
                log.info("rewound %d partitions without a committed offset to their start", len(rewind))
        return committed

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        if self._is_stream(partition):
            self.holes.position(partition, offset)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.holes.forget(set(revoked))
        for tp in revoked:
            self.bases.pop(tp, None)
            self.gone.pop(tp, None)
        await super().on_partitions_revoked(revoked)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - exercised by the kill test
        # faust.transport.consumer.Consumer._drain_messages (0.15.3) with the hole rule of the module
        # doc; the compaction "gap" bookkeeping is not needed: no input topic is compacted.
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        commit_every = self._commit_every
        holes = self.holes
        changelogs = set(self.app.tables.changelog_topics)
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                if self._reseek:
                    await self._seek_unfinished()
                ait = cast(AsyncIterator[tuple[TP, Any]], getmany(timeout=1.0))
                await self.sleep(0)
                if self.should_stop:
                    continue
                rewound: set[TP] = set()
                async for tp, message in ait:
                    if self._reseek:
                        # buffers were cleared: seek back first (point 5); the tracker then sends
                        # this batch's later stream records round again. Changelog records go on.
                        await self._seek_unfinished()
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    stream = tp.topic not in changelogs
                    if stream:
                        if tp in rewound:
                            continue  # the rest of this batch for tp comes again after the seek
                        expected_before = holes.expected(tp)
                        verdict = holes.check(tp, offset)
                        if verdict == HoleTracker.DROP:
                            continue
                        if verdict == HoleTracker.DELIVER and expected_before is not None and offset > expected_before:
                            if not await self._really_gone(tp, expected_before):
                                rewound.add(tp)  # a late copy from before the seek: not a gap
                                await self.seek(tp, expected_before)
                                continue
                            # the broker has nothing there any more: commits may pass over the range
                            self.gone.setdefault(tp, []).append((expected_before, offset))
                        if verdict == HoleTracker.REWIND:
                            expected = holes.expected(tp)
                            assert expected is not None
                            log.warning(
                                "input records %d..%d of %s were skipped by the consumer; reading them again",
                                expected,
                                offset - 1,
                                tp.topic,
                                extra={"topic": tp.topic, "partition": tp.partition},
                            )
                            _on_hole(tp)
                            rewound.add(tp)
                            await self.seek(tp, expected)
                            continue
                    else:
                        r_offset = get_read_offset(tp)
                        if r_offset is not None and offset < r_offset:
                            continue
                    if commit_every is not None and self._n_acked >= commit_every:
                        self._n_acked = 0
                        await self.commit()
                    handover = callback(message)
                    result = await self.wait_first(handover, self.suspend_flow.wait())
                    if handover not in result.done:
                        # not handed over (a rebalance began): read again after the rebalance's seek
                        break
                    set_read_offset(tp, offset)
                    if stream:
                        holes.delivered(tp, offset)
                self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


def _on_hole(tp: TP) -> None:
    from services.processor import metrics as m  # imported late: the transport's unit tests need no registry

    m.input_holes.labels(_topic_label(tp)).inc()


def _on_reseek(tp: TP) -> None:
    from services.processor import metrics as m

    m.input_reseeks.labels(_topic_label(tp)).inc()


def _on_unfinished(tp: TP) -> None:
    from services.processor import metrics as m

    m.input_unfinished.labels(_topic_label(tp)).inc()


def _topic_label(tp: TP) -> str:
    return next((n for n in ("case-events", "legal-events", "ticks", "alerts") if tp.topic.endswith(n)), "other")


def mark_processed(consumer: Any, message: Message) -> None:
    """Tell the consumer the agent finished ``message`` (any consumer: a test app may use another)."""
    finished = getattr(consumer, "finished", None)
    if finished is not None:
        finished(message)


class Transport(driver.Transport):
    Consumer = RewindingConsumer
