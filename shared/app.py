"""FastAPI application scaffolding shared by the three HTTP services.

Every app gets ``/healthz`` (process alive), ``/readyz`` (Kafka and MongoDB reachable, no consumer
in ``app.state.consumers`` stuck; 503 with each check's reason otherwise),
``/metrics``, request ids, a body size limit (413), a per-caller rate limit on the write routes of
``CENTINELA_RATE_LIMIT_ROUTES`` (429 with ``Retry-After``, :mod:`shared.ratelimit`) and error handlers
that name the offending field but never echo its value (request bodies carry personal data).

Database trouble (no server selectable, connection refused or reset, network timeout) is a
``503 {"detail": "storage unavailable"}`` with ``Retry-After`` in every service, never a 500: the
client did nothing wrong and may simply try again. :func:`service_lifespan` is the one start/stop
sequence of the three apps: connect MongoDB, let the service build and start its loops, stop them
in reverse order and close the Mongo client.
"""

from __future__ import annotations

import inspect
import logging
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import mongoengine.connection
import mongoengine.errors
import pymongo.errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.audit import AuditContext
from shared.errors import CentinelaError, StorageUnavailable
from shared.metrics import HttpMetricsMiddleware, metrics_endpoint
from shared.openapi import install as install_openapi
from shared.ratelimit import install as install_rate_limit
from shared.ratelimit import parse_rules
from shared.settings import CommonSettings

log = logging.getLogger(__name__)

# What a /readyz check returns: True/None (ready); False (unreachable); a string (not ready, this
# reason); or (ok, reason). Reasons name the dependency, partition and exception type, never a value.
ReadyResult = bool | str | tuple[bool, str] | None
ReadyCheck = Callable[[], ReadyResult]


class Stuckable(Protocol):
    """What /readyz reads of a consumer in ``app.state.consumers`` (``shared.consumer.ConsumerHealth``)."""

    def problem(self) -> str | None: ...


def ready_status(result: ReadyResult) -> str:
    """``"ok"`` or why not, from what a ready check returned."""
    if result is None or result is True:
        return "ok"
    if result is False:
        return "unreachable"
    if isinstance(result, tuple):
        ok, reason = result
        return "ok" if ok else (reason or "unreachable")
    return result or "ok"


def readiness(app: FastAPI) -> dict[str, str]:
    """Each ready check's status, plus ``consumer:<topic>`` for each consumer the service started."""
    results: dict[str, str] = {}
    for name, check in app.state.ready_checks.items():
        try:
            results[name] = ready_status(check())
        except Exception:
            results[name] = "error"
    for consumer in getattr(app.state, "consumers", None) or []:
        # a consumer of several topics (shared.consumer.PartitionedConsumer.healths) answers per topic;
        # one that keeps no health (a stand-in, a test double) has nothing to say
        healths: dict[str, Stuckable] = getattr(consumer, "healths", None) or (
            {consumer.topic: consumer.health} if getattr(consumer, "health", None) is not None else {}
        )
        for topic, health in healths.items():
            problem = health.problem()
            results[f"consumer:{topic}"] = f"stuck: {problem}" if problem else "ok"
    return results


# pymongo's "the server is not there / did not answer": ConnectionFailure covers AutoReconnect,
# NetworkTimeout, ServerSelectionTimeoutError and WaitQueueTimeoutError; ExecutionTimeout and
# WTimeoutError are a server too slow or a replica set without a majority. mongoengine raises its own
# ConnectionFailure when a connection alias cannot be built.
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    pymongo.errors.ConnectionFailure,
    pymongo.errors.ExecutionTimeout,
    pymongo.errors.WTimeoutError,
    mongoengine.connection.ConnectionFailure,
    StorageUnavailable,
)


def is_storage_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` or what it wraps (mongoengine re-raises pymongo errors) means "database down"."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, STORAGE_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def storage_unavailable_response(retry_after: int = StorageUnavailable.retry_after) -> JSONResponse:
    return JSONResponse(
        {"detail": "storage unavailable"}, status_code=503, headers={"Retry-After": str(max(1, int(retry_after)))}
    )


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

    @app.get(
        "/readyz",
        tags=["ops"],
        summary="Kafka and MongoDB are reachable, and no consumer is stuck",
        responses={
            503: {
                "description": "a dependency is unreachable or a consumer cannot progress "
                "(body: status and each check, with the reason)"
            }
        },
    )
    def readyz() -> JSONResponse:
        results = readiness(app)
        ok = all(v == "ok" for v in results.values())
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": results}, 200 if ok else 503)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_detail(exc)}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    retry_after = settings.retry_after_seconds

    def on_storage(request: Request, exc: BaseException) -> JSONResponse:
        rid = getattr(request.state, "request_id", None)
        log.warning("storage unavailable", extra={"request_id": rid, "exc": type(exc).__name__})
        return storage_unavailable_response(retry_after)

    def on_unhandled(request: Request, exc: BaseException) -> JSONResponse:
        if is_storage_unavailable(exc):
            return on_storage(request, exc)
        rid = getattr(request.state, "request_id", None)
        log.error("unhandled error", extra={"request_id": rid, "exc": type(exc).__name__}, exc_info=exc)
        return JSONResponse({"detail": "internal error", "request_id": rid}, status_code=500)

    # Registered per class (not only under ``Exception``) so Starlette answers them in its inner
    # exception middleware: a normal response that keeps the connection alive, unlike the outer
    # server-error path a bare ``Exception`` handler takes.
    async def on_storage_error(request: Request, exc: Exception) -> JSONResponse:
        return on_storage(request, exc)

    for cls in STORAGE_ERRORS:
        app.add_exception_handler(cls, on_storage_error)

    async def on_wrapped(request: Request, exc: Exception) -> JSONResponse:
        return on_unhandled(request, exc)

    # mongoengine wraps pymongo failures (save, update) in OperationError: look at the cause
    app.add_exception_handler(mongoengine.errors.OperationError, on_wrapped)

    @app.exception_handler(CentinelaError)
    async def on_centinela(request: Request, exc: CentinelaError) -> JSONResponse:
        if exc.status_code >= 500:
            if is_storage_unavailable(exc):
                return on_storage(request, exc)
            return on_unhandled(request, exc)
        return JSONResponse(exc.to_dict(), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        return on_unhandled(request, exc)

    # innermost of the middlewares, so a 429 still carries x-request-id and is counted in the HTTP metrics
    install_rate_limit(app, settings)
    # the 401/403/413/422/429/503 every route can give because of this app, in every OpenAPI document
    install_openapi(app, parse_rules(settings.rate_limit_routes) if settings.rate_limit_enabled else ())

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
    app.add_middleware(AuditContext)  # lets an audit record name its route template (shared.audit)
    return app


class Component(Protocol):
    """A background loop a service runs beside its API (outbox relay, consumer, escalator...)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class ServiceRuntime:
    """What :func:`service_lifespan` hands the service's set-up: the app, settings, the Mongo client."""

    def __init__(self, app: FastAPI, settings: CommonSettings, mongo: Any) -> None:
        self.app = app
        self.settings = settings
        self.mongo = mongo
        self.components: list[Component] = []

    @property
    def db(self) -> Any:
        """The service's database on the shared client (``client[settings.database]``)."""
        return self.mongo[self.settings.database]

    def start(self, *components: Component) -> None:
        """Start ``components`` in order; they are stopped in reverse order at shutdown."""
        for component in components:
            component.start()
            self.components.append(component)


Setup = Callable[[ServiceRuntime], Awaitable[None] | None]


def service_lifespan(
    settings: CommonSettings,
    setup: Setup,
    *,
    connect: Callable[[CommonSettings], Any] | None = None,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The one lifespan of the three apps, for ``create_app(..., lifespan=service_lifespan(settings, setup))``.

    Connects MongoDB (``shared.mongo.connect``), stores the client as ``app.state.mongo`` and adds a
    ``mongodb`` check to ``/readyz``, then calls ``setup(runtime)`` (sync or async), which builds the
    service and starts its loops with ``runtime.start(...)``. At shutdown every started component is
    stopped in reverse order (a failing stop is logged and the others still stop) and the Mongo
    client is closed, so no pool thread outlives the app. A failing ``setup`` stops what it started.
    """
    from shared.mongo import connect as mongo_connect
    from shared.mongo import ping

    do_connect = connect or mongo_connect

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = do_connect(settings)
        app.state.mongo = client
        checks = getattr(app.state, "ready_checks", None)
        if isinstance(checks, dict):
            checks.setdefault("mongodb", lambda: ping(client))
        runtime = ServiceRuntime(app, settings, client)
        app.state.runtime = runtime
        try:
            result = setup(runtime)
            if inspect.isawaitable(result):
                await result
            yield
        finally:
            for component in reversed(runtime.components):
                try:
                    component.stop()
                except Exception as exc:
                    log.warning("component stop failed", extra={"exc": type(exc).__name__})
            runtime.components.clear()
            try:
                client.close()
            except Exception as exc:
                log.warning("mongo client close failed", extra={"exc": type(exc).__name__})

    return lifespan
