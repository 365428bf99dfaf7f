"""The answers intake's own code gives beyond a route's success, for ``responses=`` on the routes.

What the shared app adds around every route (401, 403, 404, 400/413 on bodies, 429, 503, the 422
shape) is declared by ``shared.openapi``; this module covers what intake's use cases refuse, so the
OpenAPI document names every status a route really answers (issue 11 item 8). The rule behind the
codes: a body that contradicts itself is 422 naming the field; a clash with what the case holds
(closed, consent not given, already recorded, a stale version) is 409; a change that names no
version is 428.
"""

from __future__ import annotations

from typing import Any

from services.intake.api.schemas import Refusal

Responses = dict[int | str, dict[str, Any]]

# Every write goes through the compare-and-set loop (service.core.mutate): a pinned version that is
# no longer current, or a case changing faster than the retries, is a 409 on any of them.
STALE = "If-Match names a version the case is no longer at (read it again), or the case kept changing; retry"


def refusal(description: str) -> dict[str, Any]:
    return {"model": Refusal, "description": description}


def conflict(*why: str) -> Responses:
    """409: what the case holds forbids this write (``why``), or the version is stale."""
    return {409: refusal("; ".join([*why, STALE]))}


PRECONDITION_REQUIRED: Responses = {
    428: refusal("no If-Match header (nor expected_version): a change must name the version it read"),
}

# A read by an admin outside every case role is break-glass: X-Access-Reason must say why.
BREAK_GLASS: Responses = {
    400: refusal("break-glass read (an admin outside the case's roles) without X-Access-Reason"),
}


def merged(*parts: Responses) -> Responses:
    out: Responses = {}
    for part in parts:
        out.update(part)
    return out
