"""Per-principal rate limit on writes: a token bucket per caller, in memory, per process.

Registrations (``POST /v1/cases``) and court updates (``POST /v1/court-updates``) are the writes an
attacker with one stolen token, or a runaway integrator, could flood: each creates documents and
events that the processor and every advocate then carry. The limit is keyed by the verified token's
``sub`` (never by anything in the request body: bodies carry case data), so one principal cannot
starve the others; an unauthenticated or invalid request is not counted and goes on to its 401.

:func:`shared.app.create_app` installs :class:`RateLimitMiddleware` in every service from the common
settings (``CENTINELA_RATE_LIMIT_*``), so no service wires it: a route is limited when its
``METHOD /path`` matches one of ``CENTINELA_RATE_LIMIT_ROUTES`` (``{param}`` or ``*`` stands for one
path segment, e.g. ``POST /v1/cases/{case_id}/sessions``). Over the limit the answer is ``429`` with
``Retry-After`` (whole seconds until a token is back). Buckets live in each process: with N workers a
principal may reach N times the rate; a shared limit belongs in the gateway in front.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.metrics import counter
from shared.settings import CommonSettings

_SEGMENT = re.compile(r"\{[^/{}]+\}|\*")


@dataclass(frozen=True)
class RouteRule:
    """One ``METHOD /path`` pattern; ``pattern`` is kept as written for metrics and messages."""

    pattern: str
    method: str
    path: re.Pattern[str]
    template: str

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method == method.upper()) and bool(self.path.fullmatch(path))


def parse_rule(text: str) -> RouteRule:
    """``"POST /v1/cases"`` -> a rule; a malformed pattern raises ``ValueError`` naming it."""
    method, _, path = text.strip().partition(" ")
    path = path.strip()
    if not method or not path.startswith("/") or " " in path:
        raise ValueError(f"rate limit route {text!r}: write 'METHOD /path', e.g. 'POST /v1/cases'")
    if not re.fullmatch(r"\*|[A-Za-z]+", method):
        raise ValueError(f"rate limit route {text!r}: {method!r} is not an HTTP method")
    parts: list[str] = []
    last = 0
    for m in _SEGMENT.finditer(path):
        parts.append(re.escape(path[last : m.start()]))
        parts.append(r"[^/]+")
        last = m.end()
    parts.append(re.escape(path[last:]))
    return RouteRule(text.strip(), method.upper(), re.compile("".join(parts)), path)


def parse_rules(texts: Iterable[str]) -> tuple[RouteRule, ...]:
    return tuple(parse_rule(t) for t in texts if t.strip())


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; :meth:`take` answers 0 (allowed) or seconds to wait."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = now

    def take(self, now: float) -> float:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """Buckets by key, the least recently used dropped beyond ``max_keys`` (a dropped key starts full again)."""

    def __init__(
        self, rate: float, burst: float, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        # sync routes run in a thread pool, but the middleware runs on the event loop; the lock keeps
        # the limiter correct if someone calls it from threads too
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, now)
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket.take(now)

    def __len__(self) -> int:
        return len(self._buckets)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


@dataclass
class _RouteLabel:
    """Stands in for the Starlette route in the scope so HTTP metrics label a 429 with its rule's path."""

    path: str


class RateLimitMiddleware:
    """ASGI middleware: a 429 with ``Retry-After`` when the caller's bucket for a limited route is empty."""

    def __init__(
        self,
        app: ASGIApp,
        settings: CommonSettings,
        *,
        rules: Iterable[str] | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.rules = parse_rules(settings.rate_limit_routes if rules is None else rules)
        self.limiter = limiter or RateLimiter(
            settings.rate_limit_per_second, settings.rate_limit_burst, max_keys=settings.rate_limit_max_principals
        )
        self.limited = counter(
            f"centinela_{settings.service_name}_rate_limited_requests_total",
            "requests answered 429 by the per-principal write limit",
            ("rule",),
        )

    def _rule(self, scope: Scope) -> RouteRule | None:
        method, path = scope.get("method", ""), scope.get("path", "")
        for rule in self.rules:
            if rule.matches(method, path):
                return rule
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = self._rule(scope) if scope["type"] == "http" and self.rules else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        sub = self._principal(scope)
        if sub is None:  # no or bad token: the route's own check answers 401
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(sub)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        self.limited.labels(rule.pattern).inc()
        scope["route"] = _RouteLabel(rule.template)
        retry_after = max(1, math.ceil(wait))
        body = json.dumps(
            {
                "detail": f"too many requests: at most {self.settings.rate_limit_per_second:g}/s per caller "
                f"(burst {self.settings.rate_limit_burst}); retry after {retry_after} s"
            }
        ).encode()
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
        ]
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _principal(self, scope: Scope) -> str | None:
        from shared.auth import AuthError, verify

        token = _bearer(scope)
        if token is None:
            return None
        try:
            return verify(self.settings, token).sub
        except AuthError:
            return None
        except Exception:  # a broken key configuration is the route's problem to report, not the limiter's
            return None


def install(app: Any, settings: CommonSettings) -> None:
    """Add the middleware to ``app`` when enabled and some route is configured (called by ``create_app``)."""
    if settings.rate_limit_enabled and any(r.strip() for r in settings.rate_limit_routes):
        app.add_middleware(RateLimitMiddleware, settings=settings)
