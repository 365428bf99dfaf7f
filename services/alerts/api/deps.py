"""FastAPI dependencies of the alerts routers."""

from __future__ import annotations

from fastapi import Request

from services.alerts.context import AlertsContext


def ctx(request: Request) -> AlertsContext:
    return request.app.state.alerts  # type: ignore[no-any-return]
