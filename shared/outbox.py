"""Transactional outbox without multi-document transactions.

The change and the events it causes are written in *one* atomic single-document update: the
aggregate document carries an ``outbox`` array and the same ``update_one`` that changes the
aggregate ``$push``es the encoded events into it. A relay publishes pending entries with the
shared producer (acks=all, idempotent), waits for the broker's acknowledgement and only then
``$pull``s them. A crash between publish and pull republishes the same event id, which
consumers drop as a duplicate: delivery is at-least-once, effect is exactly-once per event id.

One relay per service publishes at a time (a lease document), so several API workers never
interleave one case's events.

Cost grows with the backlog, never with the data: the relay finds pending documents through a
sparse index on ``outbox.created_at`` (only documents with a pending entry are in it), oldest first,
on MongoDB and SecantusDB alike (``tests/integration/storage/test_query_plans.py`` runs ``explain``
on every shape here and fails on a collection scan).

Idle costs one indexed lookup per collection every ``outbox_idle_poll_seconds``, nothing else: the relay
is woken by ``notify()`` after a write in its own process (every service notifies after its writes);
without writes it probes for one pending document (``has_pending``) with a backoff from
``outbox_poll_seconds`` up to ``outbox_idle_poll_seconds``, and only when something is pending does it
take the lease and publish. A relay that finds nothing pending gives its lease back, so a sibling
process with a fresh write does not wait for it to expire; a relay that sees pending entries while
another holds the lease looks again every ``outbox_poll_seconds`` (the holder publishes them, or its
lease runs out and this one takes over). Worst-case added latency: none for a write in a process whose
relay runs (the usual case); ``outbox_idle_poll_seconds`` for a write made by a process without a
running relay (``CENTINELA_OUTBOX_ENABLED=false``, a producer still connecting, a script).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from shared import metrics
from shared.background import BackgroundLoop
from shared.events import CloudEvent, EventPayload, encode, new_event
from shared.kafka import Producer
from shared.settings import CommonSettings

log = logging.getLogger(__name__)


def entries(topic: str, *events: CloudEvent | EventPayload) -> list[dict[str, Any]]:
    """Outbox entries for ``events`` to be ``$push``ed in the same update as the change."""
    now = datetime.now(UTC)
    out = []
    for ev in events:
        envelope = new_event(ev) if isinstance(ev, EventPayload) else ev
        out.append(
            {
                "id": envelope.id,
                "topic": topic,
                "key": envelope.subject,
                "value": encode(envelope).decode(),
                "created_at": now,
            }
        )
    return out


def push(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``$push`` clause that appends ``events`` to a document's outbox."""
    return {"outbox": {"$each": events}}


# The relay's query shapes, each served by an index on MongoDB and on SecantusDB (see the module doc).
# Every entry carries ``created_at`` (``entries``), so "has a pending entry" is "has an
# ``outbox.created_at``". A *sparse* single-field index holds only those documents: SecantusDB serves
# ``$exists: true`` only from a sparse index (not from a partial one), MongoDB from either. Its key
# order is oldest first, so one case's documents leave in the order they were written.
PENDING_FIELD = "outbox.created_at"
PENDING_FILTER: dict[str, Any] = {PENDING_FIELD: {"$exists": True}}
PENDING_PROJECTION: dict[str, Any] = {"outbox": 1}
PENDING_INDEX = "outbox_pending"
# At most this many documents per pass (one cursor; SecantusDB reads the whole index range per query,
# so one query per pass, published in chunks of ``batch``, costs less than one query per chunk).
MAX_DOCS_PER_PASS = 5000


def ensure_outbox_index(coll: Collection[Any]) -> str:
    """Create the sparse index the relay's poll uses (idempotent); return its name.

    Services may create it with their other indexes at start-up; the relay creates it too, so a
    collection with an outbox is never polled without it.
    """
    return coll.create_index([(PENDING_FIELD, ASCENDING)], name=PENDING_INDEX, sparse=True)


def pending_query(coll: Collection[Any], limit: int = MAX_DOCS_PER_PASS) -> Any:
    """The documents with pending entries, in index order (oldest first): the relay's poll."""
    return coll.find(PENDING_FILTER, PENDING_PROJECTION).limit(limit)


# The idle probe: is anything pending at all? The same filter and index as the poll, one key read.
PROBE_PROJECTION: dict[str, Any] = {"_id": 1}


def has_pending(coll: Collection[Any]) -> bool:
    """True when at least one document of ``coll`` has a pending entry (one indexed lookup, limit 1)."""
    return coll.find_one(PENDING_FILTER, PROBE_PROJECTION) is not None


# Lease shapes. ``{_id, $or: [...]}`` was a collection scan on SecantusDB (a top-level ``$or`` disables
# its index selection) and ``{_id, owner}`` too (it serves ``_id`` only when alone), so renewal and
# takeover are two plain filters, each covered by a compound index that starts with ``_id``. MongoDB
# serves all of them from ``_id`` anyway.
LEASE_INDEXES: tuple[tuple[str, list[tuple[str, int]]], ...] = (
    ("lease_owner", [("_id", ASCENDING), ("owner", ASCENDING)]),
    ("lease_until", [("_id", ASCENDING), ("until", ASCENDING)]),
)


def ensure_lease_indexes(leases: Collection[Any]) -> list[str]:
    return [leases.create_index(keys, name=name) for name, keys in LEASE_INDEXES]


def lease_renew_filter(service: str, owner: str) -> dict[str, Any]:
    """The lease this relay already holds (renewal, release)."""
    return {"_id": service, "owner": owner}


def lease_takeover_filter(service: str, now: datetime) -> dict[str, Any]:
    """A lease nobody holds any more (expired); an upsert on it creates the first lease."""
    return {"_id": service, "until": {"$lt": now}}


class OutboxRelay(BackgroundLoop):
    stop_timeout = 15.0

    def __init__(
        self,
        producer: Producer,
        collections: list[Collection[Any]],
        lease_collection: Collection[Any],
        service: str,
        *,
        poll_interval: float = 0.5,
        lease_seconds: float = 10.0,
        batch: int = 200,
        idle_poll_interval: float | None = None,
        max_docs_per_pass: int = MAX_DOCS_PER_PASS,
    ) -> None:
        super().__init__()
        self.thread_name = f"outbox-{service}"
        self.producer = producer
        self.collections = collections
        self.leases = lease_collection
        self.service = service
        self.poll_interval = poll_interval
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.max_docs_per_pass = max(batch, max_docs_per_pass)
        # Idle probes back off up to this. The lease is not held while idle (given back when a probe finds
        # nothing), so the interval is free of the lease's length.
        idle = 10.0 if idle_poll_interval is None else idle_poll_interval
        self.idle_poll_interval = max(poll_interval, idle)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._more = False
        self._holding = False
        self._notified = False  # a local write since the last pass: publish without probing first
        self._backoff = poll_interval
        self._indexed: set[str] = set()
        self.published = metrics.counter(
            f"centinela_{service}_outbox_published_total", "events published from the outbox", ("topic",)
        )
        self.backlog = metrics.gauge(
            f"centinela_{service}_outbox_backlog_events", "outbox entries waiting to be published"
        )
        self.latency = metrics.histogram(
            f"centinela_{service}_outbox_publish_latency_seconds",
            "time from the write to the broker's acknowledgement",
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
        )
        self.failures = metrics.counter(
            f"centinela_{service}_outbox_publish_failures_total", "failed publish attempts (retried)"
        )

    def notify(self) -> None:
        """Wake the relay after a write (instead of waiting for the next poll) and reset the idle backoff."""
        self._backoff = self.poll_interval
        self._notified = True
        super().notify()

    def ensure_indexes(self) -> None:
        """The poll's and the lease's indexes, once per collection and relay (idempotent on the server)."""
        for coll in [*self.collections, self.leases]:
            if coll.full_name in self._indexed:
                continue
            if coll is self.leases:
                ensure_lease_indexes(coll)
            else:
                ensure_outbox_index(coll)
            self._indexed.add(coll.full_name)

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        self._release_lease()

    def _release_lease(self) -> None:
        self._holding = False
        try:
            self.leases.delete_one(lease_renew_filter(self.service, self.owner))
        except Exception:  # the lease expires by itself
            log.info("outbox lease not released; it expires in %ss", self.lease_seconds)

    def _acquire_lease(self) -> bool:
        """Renew our lease, or take an expired (or missing) one; False while another relay holds it."""
        now = datetime.now(UTC)
        update = {"$set": {"owner": self.owner, "until": now + timedelta(seconds=self.lease_seconds)}}
        if self.leases.find_one_and_update(lease_renew_filter(self.service, self.owner), update) is not None:
            return True
        try:
            doc = self.leases.find_one_and_update(
                lease_takeover_filter(self.service, now), update, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:  # the upsert lost: someone else holds a live lease
            return False
        return bool(doc and doc.get("owner") == self.owner)

    def _pending_anywhere(self) -> bool:
        return any(has_pending(coll) for coll in self.collections)

    def step(self) -> float:
        try:
            self.ensure_indexes()
            notified, self._notified = self._notified, False
            if not (self._more or notified) and not self._pending_anywhere():
                # Idle: one indexed probe per collection, no lease traffic. Give the lease back (once) so
                # a sibling's write is published by its own relay at once, then back off towards the idle
                # interval; notify() brings it back to poll_interval after a write in this process.
                if self._holding:
                    self._release_lease()
                delay = self._backoff
                self._backoff = min(self._backoff * 2, self.idle_poll_interval)
                return delay
            if not self._acquire_lease():
                # Pending, but another relay publishes: look again soon (it publishes them, or it died
                # and its lease runs out within outbox_lease_seconds).
                self._holding = False
                self._backoff = self.poll_interval
                return self.poll_interval
            self._holding = True
            self.run_once()
            if self._more:
                return 0  # a backlog: no pause between passes
            self._backoff = self.poll_interval
            return self._backoff
        except Exception as exc:
            self.failures.inc()
            log.warning("outbox relay pass failed; will retry", extra={"exc": type(exc).__name__})
            self._backoff = min(max(self._backoff, self.poll_interval) * 2, 10.0)
        return self._backoff

    def run_once(self) -> int:
        """Publish pending entries once (up to ``max_docs_per_pass`` documents per collection); return how many.

        One indexed query per collection; its documents are sent a chunk of ``batch`` at a time, each
        chunk acknowledged as a whole, then removed with one bulk write: the cost is one broker round
        trip and one database write per chunk, not per document. Entries are sent in outbox order and
        the idempotent producer keeps that order per partition.
        """
        self.ensure_indexes()
        total = 0
        pending = 0
        for coll in self.collections:
            docs_seen = 0
            chunk: list[dict[str, Any]] = []
            for doc in pending_query(coll, self.max_docs_per_pass):
                chunk.append(doc)
                docs_seen += 1
                if len(chunk) == self.batch:
                    total += self._publish(coll, chunk)
                    chunk = []
            if chunk:
                total += self._publish(coll, chunk)
            if docs_seen == self.max_docs_per_pass:  # more may be pending: count what is left
                pending += self._pending(coll)
        self.backlog.set(pending)
        self._more = pending > 0
        return total

    def _publish(self, coll: Collection[Any], docs: list[dict[str, Any]]) -> int:
        sent = [
            (e, self.producer.send_raw(e["topic"], e["key"].encode(), e["value"].encode()))
            for doc in docs
            for e in doc.get("outbox") or []
        ]
        for _, fut in sent:
            fut.get(timeout=30)  # a failure leaves the whole chunk pending: re-sent, de-duplicated downstream
        now = datetime.now(UTC)
        for e, _ in sent:
            created = e.get("created_at")
            if isinstance(created, datetime):
                if created.tzinfo is None:
                    created = created.replace(tzinfo=UTC)
                self.latency.observe(max(0.0, (now - created).total_seconds()))
            self.published.labels(e["topic"]).inc()
        # $pullAll of the exact entries read (unique by event id, so pulling the chunk's union from
        # each document removes only its own): entries appended since the read stay pending.
        coll.update_many({"_id": {"$in": [d["_id"] for d in docs]}}, {"$pullAll": {"outbox": [e for e, _ in sent]}})
        return len(sent)

    @staticmethod
    def _pending(coll: Collection[Any]) -> int:
        rows = list(
            coll.aggregate(
                [
                    {"$match": PENDING_FILTER},
                    {"$group": {"_id": None, "n": {"$sum": {"$size": "$outbox"}}}},
                ]
            )
        )
        return int(rows[0]["n"]) if rows else 0

    def drain(self, timeout: float = 30.0) -> None:
        """Publish until nothing is pending (tests, graceful shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once() == 0:
                return


class OutboxPublisher:
    """Runs an :class:`OutboxRelay` for a service, building its Kafka producer in the background.

    An unreachable broker must never stop a service from accepting writes — the outbox keeps
    every event until it is published — and building a kafka-python producer blocks while the
    broker is down, so it is retried off the start-up path.
    """

    def __init__(
        self,
        settings: CommonSettings,
        collections: list[Collection[Any]],
        leases: Collection[Any],
    ) -> None:
        self.settings = settings
        self.collections = collections
        self.leases = leases
        self.relay: OutboxRelay | None = None
        self.producer: Producer | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.settings.outbox_enabled:
            log.warning("outbox relay disabled (CENTINELA_OUTBOX_ENABLED=false): events stay pending")
            return
        self._thread = threading.Thread(target=self._connect, name="outbox-connect", daemon=True)
        self._thread.start()

    def _connect(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                producer = Producer(self.settings, client_id=f"centinela-{self.settings.service_name}-outbox")
            except Exception as exc:
                log.warning("kafka producer unavailable; events stay in the outbox", extra={"exc": type(exc).__name__})
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)
                continue
            with self._lock:
                if self._stop.is_set():
                    producer.close(timeout=2)
                    return
                self.producer = producer
                self.relay = OutboxRelay(
                    producer,
                    self.collections,
                    self.leases,
                    self.settings.service_name,
                    poll_interval=self.settings.outbox_poll_seconds,
                    lease_seconds=self.settings.outbox_lease_seconds,
                    idle_poll_interval=self.settings.outbox_idle_poll_seconds,
                )
                self.relay.start()
                log.info("outbox relay started")
            return

    def notify(self) -> None:
        relay = self.relay
        if relay is not None:
            relay.notify()

    def stop(self) -> None:
        with self._lock:
            self._stop.set()
            relay, producer = self.relay, self.producer
        if relay is not None:
            relay.stop()
        if producer is not None:
            try:
                producer.close(timeout=5)
            except Exception as exc:
                log.warning("producer close failed", extra={"exc": type(exc).__name__})
