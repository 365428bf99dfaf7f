"""Intake service ASGI app: ``uvicorn services.intake.main:app``.

The lifespan (``shared.app.service_lifespan``) connects MongoDB, creates the indexes, finishes any
back-links a crash left pending, and starts the outbox relay (case changes -> ``case-events``);
shutdown stops the relay and closes the Mongo client.
"""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.adapters.outbox import case_events_relay
from services.intake.api import router
from services.intake.domain.identity import CASE_FIELD, IdentityCipher
from services.intake.service.core import Intake, IntakeError
from services.intake.settings import IntakeSettings
from services.intake.store import case_files
from services.intake.store.audit import AuditLog
from services.intake.store.documents import CaseDocument
from services.intake.store.repository import CaseRepository, ensure_indexes
from shared.app import BodyLimitMiddleware, ServiceRuntime, create_app, service_lifespan
from shared.audit import open_trail
from shared.logging import allow_log_keys, setup_logging

log = logging.getLogger(__name__)
allow_log_keys("active_kid", "decrypt_only")
UPLOAD_PATH = re.compile(r"^/v1/cases/[^/]+/documents$")
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, part headers, category and title around the file


class UploadAwareBodyLimit:
    """The shared body limit (``CENTINELA_MAX_BODY_BYTES``) everywhere except a document upload, which may
    carry ``CENTINELA_DOCUMENTS_MAX_BYTES`` plus the multipart framing; both answer 413 before the app
    reads the body."""

    def __init__(self, app: ASGIApp, limit: int, upload_limit: int) -> None:
        self.small = BodyLimitMiddleware(app, limit)
        self.upload = BodyLimitMiddleware(app, upload_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_upload = scope["type"] == "http" and scope.get("method") == "POST" and UPLOAD_PATH.match(scope["path"])
        await (self.upload if is_upload else self.small)(scope, receive, send)


def with_upload_limit(app: FastAPI, settings: IntakeSettings) -> None:
    """Swap create_app's body limit for the upload-aware one (the middleware stack is built at start)."""
    upload_limit = max(settings.max_body_bytes, settings.documents_max_bytes + MULTIPART_OVERHEAD)
    for i, middleware in enumerate(app.user_middleware):
        if middleware.cls is BodyLimitMiddleware:
            app.user_middleware[i] = Middleware(
                UploadAwareBodyLimit, limit=settings.max_body_bytes, upload_limit=upload_limit
            )
            return
    raise RuntimeError("the shared body limit middleware is missing")


async def on_intake_error(request: Request, exc: Exception) -> JSONResponse:
    """A use case's refusal: its status and detail (a message, or fields like a validation error)."""
    assert isinstance(exc, IntakeError)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    setup_logging(settings.log_level)
    # Fail at start-up, not at the first registration, when the keys are unusable.
    keyring = settings.keyring()
    # key ids only (never key material): which key new data goes under, and how many still only decrypt
    log.info("identity keys loaded", extra={"active_kid": keyring.current, "decrypt_only": len(keyring.kids) - 1})

    def setup(runtime: ServiceRuntime) -> None:
        ensure_indexes()
        case_files.ensure_indexes()
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
        audit_log = AuditLog(open_trail(settings, runtime.mongo, "intake"))  # every service's trail (shared.audit)
        audit_log.ensure_indexes()
        runtime.app.state.intake = Intake(
            settings=settings,
            repo=repo,
            audit=audit_log,
            cipher=cipher,
            person_ref_key=settings.person_ref_key.get_secret_value().encode(),
            notify=relay.notify,
            files=case_files.CaseFiles.default(),
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
    with_upload_limit(app, settings)
    return app


app = build_app()
