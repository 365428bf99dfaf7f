"""FastAPI application scaffolding shared by the three HTTP services.

Every app gets ``/healthz`` (process alive), ``/readyz`` (Kafka and MongoDB reachable),
``/metrics``, request ids, a body size limit (413) and error handlers that name the offending
field but never echo its value (request bodies carry personal data).
"""

from __future__ import annotations

import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.metrics import HttpMetricsMiddleware, metrics_endpoint
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], bool]


def kafka_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                return True
        except OSError:
            continue
    return False


class BodyLimitMiddleware:
    """Refuse bodies over ``limit`` bytes with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await _too_large(send, self.limit)
            return
        if length is not None and length.isdigit():
            # the server refuses a body longer than its content-length, so nothing to count
            await self.app(scope, receive, send)
            return
        # Chunked (or no) body: read it up to the limit before the app runs. Raising from
        # receive() instead would reach FastAPI's body parser, which answers 400, not 413.
        buffered: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            buffered.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await _too_large(send, self.limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return buffered.pop(0) if buffered else await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"detail":"request body larger than {limit} bytes"}}'.encode()
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def validation_detail(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field path, error type and message; the input value is dropped (it may be personal data)."""
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        msg = str(err.get("msg", "invalid"))
        if err.get("type") in ("literal_error", "enum") and "ctx" in err and "expected" in err["ctx"]:
            msg = f"must be one of {err['ctx']['expected']}"
        out.append({"field": ".".join(loc), "type": err.get("type"), "msg": msg})
    return out


def create_app(
    settings: CommonSettings,
    *,
    title: str,
    description: str,
    version: str = "1.0.0",
    ready_checks: dict[str, ReadyCheck] | None = None,
    lifespan: Any = None,
) -> FastAPI:
    app = FastAPI(title=title, description=description, version=version, lifespan=lifespan)
    app.state.settings = settings
    checks: dict[str, ReadyCheck] = {"kafka": lambda: kafka_reachable(settings.kafka_bootstrap)}
    checks.update(ready_checks or {})
    app.state.ready_checks = checks

    @app.get("/healthz", tags=["ops"], summary="process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Kafka and MongoDB are reachable")
    def readyz() -> JSONResponse:
        results = {}
        for name, check in app.state.ready_checks.items():
            try:
                results[name] = "ok" if check() else "unreachable"
            except Exception:
                results[name] = "error"
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": results}, 200 if ok else 503)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        rid = getattr(request.state, "request_id", None)
        log.error("unhandled error", extra={"request_id": rid}, exc_info=True)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)

    @app.middleware("http")
    async def request_id(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid[:64]
        start = time.perf_counter()
        response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        response.headers["server-timing"] = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        return response

    app.add_middleware(HttpMetricsMiddleware, service=settings.service_name)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    return app
