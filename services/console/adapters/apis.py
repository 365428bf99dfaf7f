"""HTTP clients of the intake, legal and alerts APIs.

The console holds no case data and no rules of its own: every read and write goes to the service
that owns it, with a short-lived bearer token minted for the signed-in user (``shared.auth.mint``,
the same token service and secret the APIs verify), so each API applies its own need-to-know to
the person, not to the console.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from services.console.domain.accounts import User
from services.console.metrics import API_CALLS
from services.console.settings import ConsoleSettings
from shared.auth import mint

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A 4xx/5xx answer. ``fields`` maps an API field path (``body.occurred_at``) to its message."""

    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(f"API answered {status}")
        self.status = status
        self.detail = detail

    @property
    def fields(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if isinstance(self.detail, list):
            for item in self.detail:
                if isinstance(item, dict) and item.get("field"):
                    out[str(item["field"])] = str(item.get("msg") or "invalid")
        return out


class ApiUnavailable(Exception):
    """The service could not be reached (network error, timeout)."""


def token_for(settings: ConsoleSettings, user: User, source_system: str | None = None) -> str:
    return mint(
        settings,
        sub=user.user_id,
        roles=list(user.roles),
        org=user.org,
        source_system=source_system,
        ttl=min(settings.console_token_ttl_seconds, int(settings.jwt_max_lifetime_seconds)),
    )


@dataclass
class ApiClient:
    name: str
    base_url: str
    settings: ConsoleSettings
    transport: httpx.BaseTransport | None = None

    def __post_init__(self) -> None:
        self.http = httpx.Client(
            base_url=self.base_url.rstrip("/"),
            timeout=self.settings.console_api_timeout_seconds,
            transport=self.transport,
        )

    def close(self) -> None:
        self.http.close()

    def call(
        self,
        user: User,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        source_system: str | None = None,
        request_id: str | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        data: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        h = {"Authorization": f"Bearer {token_for(self.settings, user, source_system)}"}
        if request_id:
            h["X-Request-ID"] = request_id
        h.update(headers or {})
        clean = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            if files is not None:
                r = self.http.request(method, path, files=files, data=data, params=clean, headers=h)
            else:
                r = self.http.request(method, path, json=json, params=clean, headers=h)
        except httpx.HTTPError as exc:
            log.warning("%s API unreachable: %s", self.name, type(exc).__name__)
            API_CALLS.labels(self.name, "unreachable").inc()
            raise ApiUnavailable(self.name) from None
        API_CALLS.labels(
            self.name, "ok" if r.status_code < 400 else "client_error" if r.status_code < 500 else "server_error"
        ).inc()
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail")
            except ValueError:
                detail = None
            raise ApiError(r.status_code, detail)
        if raw:
            return r
        if r.status_code == 204 or not r.content:
            return None
        return r.json()

    def get(self, user: User, path: str, **kw: Any) -> Any:
        return self.call(user, "GET", path, **kw)

    def post(self, user: User, path: str, body: Any, **kw: Any) -> Any:
        return self.call(user, "POST", path, json=body, **kw)


@dataclass
class Apis:
    intake: ApiClient
    legal: ApiClient
    alerts: ApiClient
    settings: ConsoleSettings
    reports: ApiClient | None = None

    def __post_init__(self) -> None:
        if self.reports is None:
            self.reports = ApiClient("reports", self.settings.console_reports_url, self.settings)

    @classmethod
    def from_settings(cls, settings: ConsoleSettings) -> Apis:
        return cls(
            intake=ApiClient("intake", settings.console_intake_url, settings),
            legal=ApiClient("legal", settings.console_legal_url, settings),
            alerts=ApiClient("alerts", settings.console_alerts_url, settings),
            settings=settings,
        )

    def close(self) -> None:
        for c in (self.intake, self.legal, self.alerts, self.reports):
            if c is not None:
                c.close()

    async def alert_stream(self, user: User) -> AsyncIterator[str]:
        """Relay the alerts service's SSE stream for this user: yields the ``change`` of each event."""
        url = self.settings.console_alerts_url.rstrip("/") + "/v1/alerts/stream"
        headers = {"Authorization": f"Bearer {token_for(self.settings, user)}", "Accept": "text/event-stream"}
        timeout = httpx.Timeout(self.settings.console_api_timeout_seconds, read=None)
        async with httpx.AsyncClient(timeout=timeout) as client, client.stream("GET", url, headers=headers) as r:
            if r.status_code != 200:
                raise ApiError(r.status_code, None)
            event = ""
            async for line in r.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith(":"):
                    yield "heartbeat"
                elif line == "" and event:
                    yield event
                    event = ""
