"""Legal service ASGI app: ``uvicorn services.legal.main:app``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.legal.settings import LegalSettings
from shared.app import create_app
from shared.logging import setup_logging
from shared.mongo import connect, ping


def build_app(settings: LegalSettings | None = None) -> FastAPI:
    settings = settings or LegalSettings()
    setup_logging(settings.log_level)
    state: dict[str, object] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["mongo"] = connect(settings)
        yield

    app = create_app(
        settings,
        title="centinela legal",
        description="Court and prosecutor updates from integrators; each prosecution's timeline.",
        ready_checks={"mongodb": lambda: "mongo" in state and ping(state["mongo"])},  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    return app


app = build_app()
