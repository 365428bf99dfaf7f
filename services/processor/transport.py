"""The processor's Kafka transport: faust's aiokafka driver with one fix for takeovers.

faust-streaming 0.15 throws away every record a fetch returns while a rebalance has stopped the
flow, and rewinds with ``seek_to_committed`` (``Consumer.perform_seek``), trusting the next fetch
to read them again. aiokafka only seeks partitions whose committed offset is above zero, so a
partition nothing was ever committed for — one whose previous owner died before its first offset
commit — stays *after* the thrown-away records. They were never processed and are never read again
until the worker restarts: the records of a dead worker's partitions vanished in the two-worker
SIGKILL test (tests/integration/alerts_processor/test_kill_worker.py) in most runs.

``RewindingConsumer.seek_to_committed`` finishes the job: stream partitions without a committed
offset go back to the earliest offset the broker keeps (what ``auto_offset_reset=earliest`` means
for a partition nobody has committed). Records read twice are harmless: the agent drops events it
has already applied and alert ids are deterministic. Changelog partitions are left alone: table
recovery positions them itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from faust.transport.drivers import aiokafka as driver
from faust.types import TP

log = logging.getLogger("centinela.alerts.processor")


def uncommitted(committed: Mapping[TP, int | None], changelogs: set[str]) -> list[TP]:
    """The stream partitions that ``seek_to_committed`` left where they were (nothing above 0 committed)."""
    return sorted((tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs), key=str)


class RewindingConsumer(driver.Consumer):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed = await super().seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset != "earliest":
            return committed
        rewind = uncommitted(committed, set(self.app.tables.changelog_topics))
        if rewind:
            try:
                earliest = await self.earliest_offsets(*rewind)
                await self.seek_wait({tp: earliest.get(tp) or 0 for tp in rewind})
            except Exception as exc:  # the assignment changed under us: the next rebalance seeks again
                log.warning("could not rewind uncommitted partitions: %s", type(exc).__name__)
            else:
                log.info("rewound %d partitions without a committed offset to their start", len(rewind))
        return committed


class Transport(driver.Transport):
    Consumer = RewindingConsumer
