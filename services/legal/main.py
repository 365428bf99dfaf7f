"""Legal service ASGI app: ``uvicorn services.legal.main:app``.

The lifespan starts what makes the service whole: the outbox relay (timeline writes ->
``legal-events``), the court-updates consumer (the Kafka way in), the case-events consumer
(who may read which case) and the stage gauges; shutdown stops them in reverse order.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from services.legal.adapters.consumers import case_access_consumer, court_updates_consumer
from services.legal.api import court_updates, timelines
from services.legal.domain.deadlines import load_policy
from services.legal.metrics import StageGauges
from services.legal.service import LegalService
from services.legal.settings import LegalSettings
from services.legal.store.timelines import TimelineRepository
from shared.app import create_app
from shared.logging import setup_logging
from shared.mongo import connect, ping
from shared.outbox import OutboxPublisher

log = logging.getLogger(__name__)


def build_app(settings: LegalSettings | None = None) -> FastAPI:
    settings = settings or LegalSettings()
    setup_logging(settings.log_level)
    # Read at build time: a broken deadlines file stops the service before it accepts anything.
    policy = load_policy(settings.legal_deadlines_file)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(settings)
        state["mongo"] = client
        repo = TimelineRepository()
        repo.ensure_indexes()
        publisher = OutboxPublisher(settings, [repo.updates], client[settings.database]["outbox_leases"])
        service = LegalService(settings, repo, policy, notify=publisher.notify)
        app.state.service = service
        publisher.start()
        loops = []
        if settings.legal_consumers_enabled:
            loops = [
                court_updates_consumer(settings, service),
                case_access_consumer(settings, service),
            ]
            for loop in loops:
                loop.start()
        gauges = StageGauges(repo, settings.legal_stats_interval_seconds)
        gauges.start()
        app.state.consumers = loops
        try:
            yield
        finally:
            gauges.stop()
            for loop in loops:
                loop.stop()
            publisher.stop()
            client.close()

    app = create_app(
        settings,
        title="centinela legal",
        description="Court and prosecutor updates from integrators; each prosecution's timeline.",
        ready_checks={"mongodb": lambda: "mongo" in state and ping(state["mongo"])},
        lifespan=lifespan,
    )
    app.include_router(court_updates.router)
    app.include_router(timelines.router)
    return app


app = build_app()
