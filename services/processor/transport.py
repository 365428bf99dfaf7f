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
   If the broker really has nothing at the hole (retention deleted it), the second attempt accepts
   the jump and logs it.

Records read twice are harmless: the agent drops events it has already applied and alert ids are
deterministic. Changelog partitions are left alone: table recovery positions them itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as driver
from faust.types import TP
from mode import Service

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


class RewindingConsumer(driver.Consumer):
    _holes: HoleTracker | None = None

    @property
    def holes(self) -> HoleTracker:
        if self._holes is None:
            self._holes = HoleTracker()
        return self._holes

    def _is_stream(self, tp: TP) -> bool:
        return tp.topic not in set(self.app.tables.changelog_topics)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        for tp, offset in committed.items():
            if self._is_stream(tp):
                self.holes.position(tp, offset if offset else None)
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
                log.info("rewound %d partitions without a committed offset to their start", len(rewind))
        return committed

    async def seek(self, partition: TP, offset: int) -> None:
        await super().seek(partition, offset)
        if self._is_stream(partition):
            self.holes.position(partition, offset)

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        self.holes.forget(set(revoked))
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
                ait = cast(AsyncIterator[tuple[TP, Any]], getmany(timeout=1.0))
                await self.sleep(0)
                if self.should_stop:
                    continue
                rewound: set[TP] = set()
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    stream = tp.topic not in changelogs
                    if stream:
                        if tp in rewound:
                            continue  # the rest of this batch for tp comes again after the seek
                        verdict = holes.check(tp, offset)
                        if verdict == HoleTracker.DROP:
                            continue
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

    name = next((n for n in ("case-events", "legal-events", "ticks") if tp.topic.endswith(n)), "other")
    m.input_holes.labels(name).inc()


class Transport(driver.Transport):
    Consumer = RewindingConsumer
