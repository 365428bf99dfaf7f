"""Prometheus helpers: HTTP middleware metrics and a ``/metrics`` app.

Names follow ``centinela_<service>_<noun>_<unit>``; labels stay low-cardinality (the route
*template*, never a path with a case id). With several uvicorn workers set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory: ``/metrics`` then aggregates all workers.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as prom_mp
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_METRICS: dict[str, Any] = {}

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _get(kind: type, name: str, doc: str, labels: tuple[str, ...] = (), **kw: Any) -> Any:
    """Create a metric once per process (module reloads and test apps reuse it)."""
    metric = _METRICS.get(name)
    if metric is None:
        if kind is Gauge and "multiprocess_mode" not in kw and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            kw["multiprocess_mode"] = "livesum"
        metric = kind(name, doc, labels, **kw)
        _METRICS[name] = metric
    return metric


def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
    return _get(Counter, name, doc, labels)


def gauge(name: str, doc: str, labels: tuple[str, ...] = (), **kw: Any) -> Gauge:
    return _get(Gauge, name, doc, labels, **kw)


def histogram(
    name: str, doc: str, labels: tuple[str, ...] = (), buckets: tuple[float, ...] = LATENCY_BUCKETS
) -> Histogram:
    return _get(Histogram, name, doc, labels, buckets=buckets)


class HttpMetricsMiddleware:
    """Counts requests and observes latency by method, route template and status."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.requests = counter(
            f"centinela_{service}_http_requests_total", "HTTP requests", ("method", "route", "status")
        )
        self.latency = histogram(
            f"centinela_{service}_http_request_duration_seconds", "HTTP request latency", ("method", "route")
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = scope.get("path", "")
            # routes added with add_route (/metrics) carry no route in the scope; name the fixed ones
            template = getattr(route, "path", None) or (path if path in OPERATIONAL_PATHS else "unmatched")
            method = scope.get("method", "GET")
            self.requests.labels(method, template, str(status["code"])).inc()
            self.latency.labels(method, template).observe(time.perf_counter() - start)


# the operational endpoints every service serves: a label of their own instead of "unmatched"
OPERATIONAL_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})


def metrics_payload() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_mp.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics_endpoint(request: Request) -> Response:
    return Response(metrics_payload(), media_type=CONTENT_TYPE_LATEST)
