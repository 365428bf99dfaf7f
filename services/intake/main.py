"""Intake service ASGI app: ``uvicorn services.intake.main:app``.

The lifespan (``shared.app.service_lifespan``) connects MongoDB, creates the indexes, finishes any
back-links a crash left pending, and starts the outbox relay (case changes -> ``case-events``);
shutdown stops the relay and closes the Mongo client.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.intake.adapters.outbox import case_events_relay
from services.intake.api import router
from services.intake.domain.identity import CASE_FIELD, IdentityCipher, Keyring
from services.intake.service.core import Intake, IntakeError
from services.intake.settings import IntakeSettings
from services.intake.store.documents import CaseDocument
from services.intake.store.repository import AuditLog, CaseRepository, ensure_indexes
from shared.app import ServiceRuntime, create_app, service_lifespan
from shared.logging import setup_logging

log = logging.getLogger(__name__)


async def on_intake_error(request: Request, exc: Exception) -> JSONResponse:
    """A use case's refusal: its status and detail (a message, or fields like a validation error)."""
    assert isinstance(exc, IntakeError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    setup_logging(settings.log_level)
    # Fail at start-up, not at the first registration, when the keys are unusable.
    keyring = Keyring.parse(settings.identity_keys.get_secret_value())

    def setup(runtime: ServiceRuntime) -> None:
        ensure_indexes()
        cases = CaseDocument._get_collection()
        repo = CaseRepository(cases)
        repaired = repo.repair_links()
        if repaired:
            log.warning("finished back-links a crash left pending", extra={"cases": repaired})
        cipher = IdentityCipher(keyring)
        protected = repo.protect_legacy_places(
            lambda case_id, text: cipher.encrypt_field(case_id, "place_of_exploitation", text, CASE_FIELD)
        )
        if protected:
            log.warning("encrypted plain place_of_exploitation of older cases", extra={"cases": protected})
        relay = case_events_relay(settings, runtime.mongo, cases)
        runtime.app.state.intake = Intake(
            settings=settings,
            repo=repo,
            audit=AuditLog(),
            cipher=cipher,
            person_ref_key=settings.person_ref_key.get_secret_value().encode(),
            notify=relay.notify,
        )
        runtime.start(relay)

    app = create_app(
        settings,
        title="centinela intake",
        description="Case registry, support services, sessions, risk flags; the child's identity protected.",
        lifespan=service_lifespan(settings, setup),
    )
    app.add_exception_handler(IntakeError, on_intake_error)
    app.include_router(router)
    return app


app = build_app()
