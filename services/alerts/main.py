"""Alerts service ASGI app: ``uvicorn services.alerts.main:app``.

One process runs: the HTTP API, a Kafka consumer on ``alerts`` (stores the alerts the processor
raises and resolves, queues notifications), the outbox relay (publishes this service's own
facts: acknowledged, resolved by hand, escalated), the escalation loop and the delivery worker
(e-mail, webhooks). Every loop is safe to run in several processes.
The policy file must be valid at start-up (the service refuses to start and logs why otherwise).
Nothing on the start-up path waits for Kafka: the service starts (and /readyz reports Kafka
unreachable) during a broker outage; the relay and the consumer connect in the background.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.alerts import i18n
from services.alerts.adapters import webhooks
from services.alerts.adapters.consumer import alerts_consumer
from services.alerts.adapters.live_stream import Broadcaster
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.api import admin_routes, inbox_routes
from services.alerts.domain.page_cursor import CursorCodec, derive_key
from services.alerts.domain.webhook_targets import AllowList
from services.alerts.service import AlertsService
from services.alerts.service.configuration import Configuration
from services.alerts.service.delivery import DeliveryWorker
from services.alerts.service.escalation import Escalator
from services.alerts.service.inbox import Inbox
from services.alerts.service.ingest import AlertIngestor, Notifier
from services.alerts.service.refusals import InvalidField, ServiceError
from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.contacts import (
    DeliveryRepository,
    DirectoryRepository,
    JobRepository,
    SubscriptionRepository,
)
from services.alerts.store.documents import AlertDoc, OutboxLeaseDoc, ensure_indexes
from services.processor.domain.policy import PolicyError
from shared.app import ServiceRuntime, create_app, service_lifespan
from shared.audit import open_trail
from shared.logging import setup_logging
from shared.outbox import OutboxPublisher

log = logging.getLogger(__name__)


def build_app(settings: AlertsSettings | None = None) -> FastAPI:
    settings = settings or AlertsSettings()
    setup_logging(settings.log_level)

    def setup(runtime: ServiceRuntime, policy: EscalationPolicy) -> None:
        ensure_indexes()
        live = Broadcaster()
        alerts, jobs = AlertRepository(), JobRepository()
        directory, subscriptions, deliveries = DirectoryRepository(), SubscriptionRepository(), DeliveryRepository()
        publisher = OutboxPublisher(settings, [AlertDoc._get_collection()], OutboxLeaseDoc._get_collection())
        worker = DeliveryWorker(settings, jobs, subscriptions, deliveries)
        notifier = Notifier(settings, directory, subscriptions, jobs, policy, on_jobs=worker.notify)
        escalator = Escalator(
            settings, alerts, policy, on_change=live.publish, on_outbox=publisher.notify, notifier=notifier
        )

        def changed(kind: str, doc: dict[str, Any]) -> None:
            """A change made here: to the live stream, and to the escalation loop's schedule (no polling)."""
            live.publish(kind, doc)
            escalator.consider(doc)

        cursors = CursorCodec(derive_key(settings.jwt_secret.get_secret_value()))
        # every read, action and refusal of the API goes to the one audit trail (api.audit, shared.audit)
        trail = open_trail(settings, runtime.mongo, "alerts")
        trail.ensure_indexes()
        runtime.app.state.audit = trail
        runtime.app.state.alerts = AlertsService(
            settings=settings,
            inbox=Inbox(alerts, notifier, cursors, on_change=changed, on_outbox=publisher.notify),
            configuration=Configuration(
                subscriptions,
                directory,
                deliveries,
                cursors,
                allow=AllowList.parse(settings.webhook_allow_hosts),
                resolve=webhooks.resolve,
            ),
            live=live,
            policy=policy,
        )
        ingestor = AlertIngestor(
            settings,
            alerts,
            directory,
            subscriptions,
            jobs,
            policy,
            on_change=changed,
            on_jobs=worker.notify,
            notifier=notifier,
        )
        # the consumer reaches the broker in its own thread: an outage delays consumption, not start-up
        consumer = alerts_consumer(settings, ingestor)
        runtime.app.state.consumers = [consumer]
        runtime.start(publisher, worker, consumer, escalator)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # first, before touching MongoDB or Kafka: escalating on a policy nobody wrote is worse than not starting
        try:
            policy = EscalationPolicy(settings.policy_file)
        except PolicyError as exc:
            log.error("alerts service refuses to start: policy file (CENTINELA_POLICY_FILE) unusable: %s", exc)
            raise
        try:  # the e-mail catalogues (es, en) compiled now: a broken .po stops start-up, not the first e-mail
            i18n.load_catalogues()
        except i18n.CatalogueError as exc:
            log.error("alerts service refuses to start: %s", exc)
            raise
        # the effective policy (shipped defaults + the operator's overrides, marked *): rule ids and
        # thresholds only, no case data
        log.info("alert policy in force: %s", policy.current().summary())
        async with service_lifespan(settings, lambda runtime: setup(runtime, policy))(app):
            yield

    app = create_app(
        settings,
        title="centinela alerts",
        description="Alert inbox, acknowledgement, escalation, webhooks, e-mail and a live stream.",
        lifespan=lifespan,
    )

    @app.exception_handler(ServiceError)
    async def on_refused(request: Request, exc: ServiceError) -> JSONResponse:
        if isinstance(exc, InvalidField):
            detail = [{"field": exc.field, "type": "value_error", "msg": exc.message}]
            return JSONResponse({"detail": detail}, status_code=exc.status_code)
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    app.include_router(inbox_routes.router)
    app.include_router(admin_routes.router)
    return app


app = build_app()
