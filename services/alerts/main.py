"""Alerts service ASGI app: ``uvicorn services.alerts.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.alerts.settings import AlertsSettings
from shared.app import create_app
from shared.logging import setup_logging
from shared.mongo import connect, ping


def build_app(settings: AlertsSettings | None = None) -> FastAPI:
    settings = settings or AlertsSettings()
    setup_logging(settings.log_level)
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["mongo"] = connect(settings)
        yield

    app = create_app(
        settings,
        title="centinela alerts",
        description="Alert inbox, acknowledgement, escalation, webhooks, e-mail and a live stream.",
        ready_checks={"mongodb": lambda: "mongo" in state and ping(state["mongo"])},  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    return app


app = build_app()
