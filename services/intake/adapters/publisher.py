"""Runs the shared outbox relay for the case collection.

The Kafka producer is built in the background and retried: an unreachable broker must never
stop intake from accepting cases, because the outbox keeps every event until it is published.
"""

from __future__ import annotations

import logging
import threading

from pymongo.collection import Collection

from services.intake.settings import IntakeSettings
from shared.kafka import Producer
from shared.outbox import OutboxRelay

log = logging.getLogger(__name__)


class OutboxPublisher:
    def __init__(
        self,
        settings: IntakeSettings,
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
