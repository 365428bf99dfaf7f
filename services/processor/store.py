"""The ``case-state`` table's local store: RocksDB on disk (rocksdict), one database per partition.

Why not faust's in-memory store: a worker that restarts, or takes over a dead worker's partitions,
had to rebuild every case from the changelog (40-240 s at 100,000 cases, all partitions paused
meanwhile), and every case lived in the heap (3-10 KiB each after a recovery). On disk:

* **restart in seconds.** Each partition's database keeps, in the same atomic write as the states,
  the changelog offset it holds everything up to; recovery reads only the records after it.
* **takeover in seconds.** With ``CENTINELA_PROCESSOR_STANDBY_REPLICAS`` (default 1) every worker
  follows the other workers' partitions into its own databases, so the survivor of a crash holds
  the dead worker's cases already and reads only the last few records.
* **memory bounded by the caches**, not by the caseload (block cache and write buffers per partition,
  ``CENTINELA_PROCESSOR_STORE_CACHE_MB``).

The order of a write (:meth:`CaseTable.write`, called by ``tables.StateWriter.flush``): the changelog
record first, acknowledged by the broker, then the local database with the offset. The local store
is never ahead of the changelog, so a crash between the two only means the record is read back at
recovery; a state that only this disk knew of would be lost to whoever takes the partition over.

faust's own store writes locally first and records the offset when the changelog send completes;
:class:`CaseTable` turns that callback off, the offset goes with the data.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

import faust
from faust.stores.rocksdb import Store as RocksDBStore
from faust.types.stores import StoreT
from faust.types.tuples import FutureMessage
from rocksdict import WriteBatch

log = logging.getLogger("centinela.processor")

MIB = 1024 * 1024


class CaseStore(RocksDBStore):
    """faust's RocksDB store (rocksdict driver) read and written by partition, never by "current event"."""

    def read(self, partition: int, key: str) -> bytes | None:
        value = self._db_for_partition(partition).get(self._encode_key(key))
        return bytes(value) if value is not None else None

    def write(self, partition: int, items: Iterable[tuple[str, bytes]], offset: int) -> None:
        """Write ``items`` and the changelog ``offset`` they are current to in one atomic batch."""
        batch = WriteBatch(raw_mode=True)
        for key, value in items:
            batch.put(self._encode_key(key), value)
        batch.put(self.offset_key, str(offset).encode())
        self._db_for_partition(partition).write(batch)

    def scan(self, partitions: Iterable[int]) -> Iterator[tuple[int, str, bytes]]:
        """Every (partition, case id, stored state) of ``partitions``."""
        for partition in sorted(partitions):
            for key, value in self._db_for_partition(partition).items():
                if key != self.offset_key:
                    yield partition, json.loads(key), bytes(value)


class CaseTable(faust.Table):
    """The ``case-state`` table on :class:`CaseStore`, written only through :meth:`write`."""

    def _new_store(self) -> StoreT:
        return CaseStore(
            "rocksdb://",
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=dict(self.options or {}),
            driver="rocksdict",
        )

    @property
    def store(self) -> CaseStore:
        store = self.data
        assert isinstance(store, CaseStore)
        return store

    def _on_changelog_sent(self, fut: FutureMessage) -> None:
        """Off: the offset is written with the states it covers (:meth:`write`), not ahead of them."""

    async def write(self, staged: dict[str, tuple[int, bytes]]) -> None:
        """Send each ``case id -> (partition, value)`` to the changelog, wait for the broker, then
        write them to the local databases with the offsets the broker gave."""
        futures = {key: self.send_changelog(partition, key, value) for key, (partition, value) in staged.items()}
        offsets: dict[int, int] = {}
        by_partition: dict[int, list[tuple[str, bytes]]] = defaultdict(list)
        for key, future in futures.items():
            metadata = await future
            partition, value = staged[key]
            offsets[partition] = max(offsets.get(partition, -1), metadata.offset)
            by_partition[partition].append((key, value))
        store = self.store
        for partition, items in by_partition.items():
            store.write(partition, items, offsets[partition])
            await asyncio.sleep(0)

    def read(self, partition: int, key: str) -> bytes | None:
        return self.store.read(partition, key)

    def scan(self, partitions: Iterable[int]) -> Iterator[tuple[int, str, bytes]]:
        return self.store.scan(partitions)


def store_options(cache_mb: int) -> dict[str, Any]:
    """RocksDB sizes per partition database: ``cache_mb`` of block cache, write buffers of a quarter of it."""
    buffer = max(1, cache_mb // 4) * MIB
    return {
        "block_cache_size": cache_mb * MIB,
        "block_cache_compressed_size": 0,
        "write_buffer_size": buffer,
        "max_write_buffer_number": 2,
        "target_file_size_base": 16 * MIB,
        "max_open_files": 256,
    }
