"""Signed webhook POSTs."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass

import httpx

from services.alerts.adapters.webhook_signing import sign
from services.alerts.domain.webhook_targets import IPAddress


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (what the HTTP client may connect to)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass
class WebhookResult:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: float


def post(client: httpx.Client, url: str, secret: str, body: bytes, event_id: str, event_type: str) -> WebhookResult:
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/cloudevents+json",
        "User-Agent": "centinela-alerts-webhook/1",
        "X-Centinela-Timestamp": timestamp,
        "X-Centinela-Signature": sign(secret, timestamp, body),
        "X-Centinela-Event-Id": event_id,
        "X-Centinela-Event-Type": event_type,
    }
    start = time.perf_counter()
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return WebhookResult(False, None, type(exc).__name__, (time.perf_counter() - start) * 1000)
    ok = 200 <= response.status_code < 300
    return WebhookResult(
        ok, response.status_code, None if ok else f"HTTP {response.status_code}", (time.perf_counter() - start) * 1000
    )
