"""Legal service ASGI app: ``uvicorn services.legal.main:app``.

The lifespan (``shared.app.service_lifespan``) connects MongoDB and starts what makes the service
whole: the outbox relay (timeline writes -> ``legal-events``), the court-updates consumer (the
Kafka way in), the case-events consumer (who may read which case) and the stage gauges; shutdown
stops them in reverse order and closes the Mongo client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI

from services.legal.adapters.consumers import case_access_consumer, court_updates_consumer
from services.legal.api import audit, calendar, court_updates, timelines
from services.legal.domain.deadlines import load_policy
from services.legal.metrics import StageGauges
from services.legal.service import LegalService
from services.legal.settings import LegalSettings
from services.legal.store.audit import AuditLog
from services.legal.store.feeds import FeedRepository
from services.legal.store.shares import ShareRepository
from services.legal.store.timelines import TimelineRepository
from shared.app import ServiceRuntime, create_app, service_lifespan
from shared.audit import open_trail
from shared.consumer import PartitionedConsumer
from shared.logging import setup_logging
from shared.outbox import OutboxPublisher

log = logging.getLogger(__name__)


def build_app(settings: LegalSettings | None = None) -> FastAPI:
    settings = settings or LegalSettings()
    setup_logging(settings.log_level)
    # Read at build time: a broken deadlines file stops the service before it accepts anything.
    policy = load_policy(
        settings.legal_deadlines_file, time_zone=settings.legal_time_zone, holidays_dir=settings.legal_holidays_dir
    )

    def setup(runtime: ServiceRuntime) -> None:
        repo = TimelineRepository()
        repo.ensure_indexes()
        publisher = OutboxPublisher(settings, [repo.updates], runtime.db["outbox_leases"])
        gauges = StageGauges(repo, settings.legal_stats_interval_seconds)

        def written() -> None:
            """A timeline write here: its outbox relay publishes at once, the stage gauges count again."""
            publisher.notify()
            gauges.changed()

        # the one audit trail of every service (shared.audit); CENTINELA_LEGAL_AUDIT_DB is its older name
        if settings.legal_audit_db:
            audit_log = AuditLog(runtime.mongo[settings.legal_audit_db]["audit"])
        else:
            audit_log = AuditLog(open_trail(settings, runtime.mongo, "legal").coll)
        audit_log.ensure_indexes()
        feeds = FeedRepository()
        feeds.ensure_indexes()
        shares = ShareRepository(runtime.db["legal_case_shares"])
        service = LegalService(settings, repo, policy, notify=written, audit=audit_log, feeds=feeds, shares=shares)
        runtime.app.state.service = service
        runtime.start(publisher)
        consumers: list[PartitionedConsumer[Any]] = []
        if settings.legal_consumers_enabled:
            consumers = [court_updates_consumer(settings, service), case_access_consumer(settings, service)]
            runtime.start(*consumers)
        runtime.app.state.consumers = consumers
        runtime.start(gauges)

    app = create_app(
        settings,
        title="centinela legal",
        description="Court and prosecutor updates from integrators and advocates; each prosecution's timeline.",
        lifespan=service_lifespan(settings, setup),
    )
    app.include_router(court_updates.router)
    court_updates.document_body(app, settings.legal_max_batch)
    app.include_router(timelines.router)
    app.include_router(calendar.router)
    app.include_router(audit.router)
    return app


app = build_app()
