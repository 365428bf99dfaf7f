"""Alerts service ASGI app: ``uvicorn services.alerts.main:app``.

One process runs: the HTTP API, a Kafka consumer on ``alerts`` (stores alerts, queues
notifications), the outbox relay (publishes ack / resolve / escalation facts), the escalation
loop and the delivery worker (e-mail, webhooks). Every loop is safe to run in several processes.
The policy file must be valid at start-up (the service refuses to start and logs why otherwise).
Nothing on the start-up path waits for Kafka: the service starts (and /readyz reports Kafka
unreachable) during a broker outage; the relay and the consumer connect in the background.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.alerts.api import admin, alerts
from services.alerts.consumer import AlertIngestor
from services.alerts.context import AlertsContext
from services.alerts.escalation import EscalationPolicy, Escalator
from services.alerts.live import Broadcaster
from services.alerts.notify.worker import DeliveryWorker
from services.alerts.settings import AlertsSettings
from services.alerts.store.alerts import AlertRepository
from services.alerts.store.contacts import (
    DeliveryRepository,
    DirectoryRepository,
    JobRepository,
    SubscriptionRepository,
)
from services.alerts.store.documents import AlertDoc, OutboxLeaseDoc, ensure_indexes
from services.processor.domain.policy import PolicyError
from shared.app import create_app
from shared.kafka import ConsumerLoop
from shared.logging import setup_logging
from shared.mongo import connect, ping
from shared.outbox import OutboxPublisher
from shared.topics import ALERTS

log = logging.getLogger(__name__)


def build_app(settings: AlertsSettings | None = None) -> FastAPI:
    settings = settings or AlertsSettings()
    setup_logging(settings.log_level)
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # first, before touching MongoDB or Kafka: escalating on a policy nobody wrote is worse than not starting
        try:
            policy = EscalationPolicy(settings.policy_file)
        except PolicyError as exc:
            log.error("alerts service refuses to start: policy file (CENTINELA_POLICY_FILE) unusable: %s", exc)
            raise
        state["mongo"] = connect(settings)
        ensure_indexes()
        broadcaster = Broadcaster()
        c = AlertsContext(
            settings=settings,
            alerts=AlertRepository(),
            directory=DirectoryRepository(),
            subscriptions=SubscriptionRepository(),
            jobs=JobRepository(),
            deliveries=DeliveryRepository(),
            policy=policy,
            broadcaster=broadcaster,
        )
        publisher = OutboxPublisher(settings, [AlertDoc._get_collection()], OutboxLeaseDoc._get_collection())
        c.notify_outbox = publisher.notify
        app.state.alerts = c
        worker = DeliveryWorker(settings, c.jobs, c.subscriptions, c.deliveries)
        ingestor = AlertIngestor(
            settings,
            c.alerts,
            c.directory,
            c.subscriptions,
            c.jobs,
            c.policy,
            on_change=broadcaster.publish,
            on_jobs=worker.notify,
        )
        # ConsumerLoop reaches the broker in its own thread: an outage delays consumption, not start-up
        consumer = ConsumerLoop(
            settings, [ALERTS], settings.alerts_consumer_group, decode=ingestor.decode, handler=ingestor.handle
        )
        escalator = Escalator(settings, c.alerts, c.policy, on_change=broadcaster.publish, on_outbox=publisher.notify)
        publisher.start()
        worker.start()
        consumer.start()
        escalator.start()
        try:
            yield
        finally:
            escalator.stop()
            consumer.stop()
            worker.stop()
            publisher.stop()

    app = create_app(
        settings,
        title="centinela alerts",
        description="Alert inbox, acknowledgement, escalation, webhooks, e-mail and a live stream.",
        ready_checks={"mongodb": lambda: "mongo" in state and ping(state["mongo"])},  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.include_router(alerts.router)
    app.include_router(admin.router)
    return app


app = build_app()
