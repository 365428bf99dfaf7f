"""Intake service ASGI app: ``uvicorn services.intake.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.intake.settings import IntakeSettings
from shared.app import create_app
from shared.logging import setup_logging
from shared.mongo import connect, ping


def build_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or IntakeSettings()
    setup_logging(settings.log_level)
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["mongo"] = connect(settings)
        yield

    app = create_app(
        settings,
        title="centinela intake",
        description="Case registry, support services, sessions, risk flags; the child's identity protected.",
        ready_checks={"mongodb": lambda: "mongo" in state and ping(state["mongo"])},  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    return app


app = build_app()
