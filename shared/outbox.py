"""Transactional outbox without multi-document transactions.

The change and the events it causes are written in *one* atomic single-document update: the
aggregate document carries an ``outbox`` array and the same ``update_one`` that changes the
aggregate ``$push``es the encoded events into it. A relay publishes pending entries with the
shared producer (acks=all, idempotent), waits for the broker's acknowledgement and only then
``$pull``s them. A crash between publish and pull republishes the same event id, which
consumers drop as a duplicate: delivery is at-least-once, effect is exactly-once per event id.

One relay per service publishes at a time (a lease document), so several API workers never
interleave one case's events.
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

from pymongo.collection import Collection

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


class OutboxRelay(BackgroundLoop):
    stop_timeout = 15.0

    def __init__(
        self,
        producer: Producer,
        collections: list[Collection],  # type: ignore[type-arg]
        lease_collection: Collection,  # type: ignore[type-arg]
        service: str,
        *,
        poll_interval: float = 0.5,
        lease_seconds: float = 10.0,
        batch: int = 200,
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
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._more = False
        self._backoff = poll_interval
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

    # notify() (from BackgroundLoop) wakes the relay after a write instead of waiting for the next poll

    def stop(self, timeout: float | None = None) -> None:
        super().stop(timeout)
        try:
            self.leases.delete_one({"_id": self.service, "owner": self.owner})
        except Exception:  # the lease expires by itself
            log.info("outbox lease not released; it expires in %ss", self.lease_seconds)

    def _acquire_lease(self) -> bool:
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.lease_seconds)
        try:
            self.leases.update_one(
                {"_id": self.service, "$or": [{"owner": self.owner}, {"until": {"$lt": now}}]},
                {"$set": {"owner": self.owner, "until": until}},
                upsert=True,
            )
        except Exception:  # duplicate key on upsert: someone else holds a live lease
            return False
        doc = self.leases.find_one({"_id": self.service})
        return bool(doc and doc.get("owner") == self.owner)

    def step(self) -> float:
        try:
            if self._acquire_lease():
                self.run_once()
                if self._more:
                    return 0  # a backlog: no pause between batches
            self._backoff = self.poll_interval
        except Exception as exc:
            self.failures.inc()
            log.warning("outbox relay pass failed; will retry", extra={"exc": type(exc).__name__})
            self._backoff = min(self._backoff * 2, 10.0)
        return self._backoff

    def run_once(self) -> int:
        """Publish every pending entry once (a batch of documents per collection); return how many.

        A batch is sent as a whole, acknowledged as a whole, then removed with one bulk write: the
        cost is one broker round trip and one database write per batch, not per document.
        Entries are sent in outbox order and the idempotent producer keeps that order per partition.
        """
        total = 0
        pending = 0
        for coll in self.collections:
            docs = list(coll.find({"outbox.0": {"$exists": True}}, {"outbox": 1}).limit(self.batch))
            sent = [
                (e, self.producer.send_raw(e["topic"], e["key"].encode(), e["value"].encode()))
                for doc in docs
                for e in doc.get("outbox") or []
            ]
            for _, fut in sent:
                fut.get(timeout=30)  # a failure leaves the whole batch pending: re-sent, de-duplicated downstream
            now = datetime.now(UTC)
            for e, _ in sent:
                created = e.get("created_at")
                if isinstance(created, datetime):
                    if created.tzinfo is None:
                        created = created.replace(tzinfo=UTC)
                    self.latency.observe(max(0.0, (now - created).total_seconds()))
                self.published.labels(e["topic"]).inc()
            if docs:
                # $pullAll of the exact entries read (unique by event id, so pulling the batch's union
                # from each document removes only its own): entries appended since the read stay pending.
                coll.update_many(
                    {"_id": {"$in": [d["_id"] for d in docs]}}, {"$pullAll": {"outbox": [e for e, _ in sent]}}
                )
            total += len(sent)
            if len(docs) == self.batch:  # more than a batch was pending: count what is left
                pending += self._pending(coll)
        self.backlog.set(pending)
        self._more = pending > 0
        return total

    @staticmethod
    def _pending(coll: Collection) -> int:  # type: ignore[type-arg]
        rows = list(
            coll.aggregate(
                [
                    {"$match": {"outbox.0": {"$exists": True}}},
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
        collections: list[Collection],  # type: ignore[type-arg]
        leases: Collection,  # type: ignore[type-arg]
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
