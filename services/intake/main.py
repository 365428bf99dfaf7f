"""Intake service ASGI app: ``uvicorn services.intake.main:app``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.adapters.outbox import case_events_relay
from services.intake.api import router
from services.intake.domain.identity import IdentityCipher, Keyring
from services.intake.service.core import Intake, IntakeError
from services.intake.settings import IntakeSettings
from services.intake.store.documents import CaseDocument
from services.intake.store.repository import AuditLog, CaseRepository, ensure_indexes
from shared.app import create_app
from shared.logging import setup_logging
from shared.mongo import connect, ping

log = logging.getLogger(__name__)


async def on_intake_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntakeError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    setup_logging(settings.log_level)
    # Fail at start-up, not at the first registration, when the keys are unusable.
    keyring = Keyring.parse(settings.identity_keys.get_secret_value())
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = connect(settings)
        state["mongo"] = client
        ensure_indexes()
        cases = CaseDocument._get_collection()
        repo = CaseRepository(cases)
        repaired = repo.repair_links()
        if repaired:
            log.warning("finished back-links a crash left pending", extra={"cases": repaired})
        publisher = case_events_relay(settings, client, cases)
        app.state.intake = Intake(
            settings=settings,
            repo=repo,
            audit=AuditLog(),
            cipher=IdentityCipher(keyring),
            person_ref_key=settings.person_ref_key.get_secret_value().encode(),
            notify=publisher.notify,
        )
        publisher.start()
        try:
            yield
        finally:
            publisher.stop()

    app = create_app(
        settings,
        title="centinela intake",
        description="Case registry, support services, sessions, risk flags; the child's identity protected.",
        ready_checks={"mongodb": lambda: "mongo" in state and ping(state["mongo"])},  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.add_exception_handler(IntakeError, on_intake_error)
    app.include_router(router)
    return app


app = build_app()
