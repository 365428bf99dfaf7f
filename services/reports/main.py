"""Reports service ASGI app: ``uvicorn services.reports.main:app``.

One process runs the HTTP API, the read model's consumer (``case-events``, ``legal-events``,
``alerts``) and the materialiser that folds changed cases into the aggregate cells. Nothing on the
start-up path waits for Kafka: the consumer connects in the background.
"""

from __future__ import annotations

from fastapi import FastAPI

from services.reports.adapters.consumer import reports_consumer
from services.reports.api import router
from services.reports.service.projector import Materialiser, Projector
from services.reports.service.reports import Reports
from services.reports.settings import ReportsSettings
from services.reports.store.readmodel import CellRepository, FactsRepository, ensure_indexes
from shared.app import ServiceRuntime, create_app, service_lifespan
from shared.audit import open_trail
from shared.logging import setup_logging


def build_app(settings: ReportsSettings | None = None, *, consume: bool = True) -> FastAPI:
    settings = settings or ReportsSettings()
    setup_logging(settings.log_level)

    def setup(runtime: ServiceRuntime) -> None:
        db = runtime.db
        ensure_indexes(db)
        facts = FactsRepository(db)
        # every read, export and refusal goes to the one audit trail of every service (api.audit, shared.audit)
        trail = open_trail(settings, runtime.mongo, "reports")
        trail.ensure_indexes()
        runtime.app.state.reports = Reports(CellRepository(db), facts, trail, settings.reports_min_cell)
        materialiser = Materialiser(
            db,
            settings.reports_materialise_seconds,
            settings.reports_materialise_batch,
            settings.reports_lease_seconds,
            k=settings.reports_min_cell,
            gauges_every=300.0,  # a fold in this process refreshes them at once
        )
        runtime.app.state.materialiser = materialiser
        runtime.start(materialiser)
        if consume:
            # a case folded here wakes the materialiser (it does not poll while idle)
            consumer = reports_consumer(settings, Projector(facts, on_folded=materialiser.notify))
            runtime.app.state.consumers = [consumer]
            runtime.start(consumer)

    app = create_app(
        settings,
        title="centinela reports",
        description="Justice-access figures from the event stream and the anonymised export for sharing.",
        lifespan=service_lifespan(settings, setup),
    )
    app.include_router(router)
    return app


app = build_app()
