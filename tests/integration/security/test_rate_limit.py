"""The write limit is on in the real services without any wiring of theirs (issue 11 item 10).

Intake and legal run as uvicorn processes with a tiny limit (burst 2, 0.2/s); the third write of one
principal answers 429 with Retry-After, another principal still writes, and reads are not limited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from shared.auth import mint
from shared.settings import CommonSettings
from tests.support import Proc, free_port, uvicorn_args

ROUTES = {
    "intake": ("services.intake.main:app", "/v1/cases", "intake_officer", "/v1/cases"),
    "legal": ("services.legal.main:app", "/v1/court-updates", "court_integrator", "/v1/legal/cases"),
}


@pytest.fixture(scope="module")
def limited(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc]
) -> dict[str, Proc]:
    started = {}
    for name, (module, *_rest) in ROUTES.items():
        port = free_port()
        env = {
            **stack_env,
            "CENTINELA_MONGO_DB": db_name(f"ratelimit_{name}"),
            "CENTINELA_RATE_LIMIT_PER_SECOND": "0.2",
            "CENTINELA_RATE_LIMIT_BURST": "2",
            "CENTINELA_LEGAL_CONSUMERS_ENABLED": "false",
        }
        proc = Proc(f"ratelimit-{name}", uvicorn_args(module, port), env, log_dir, port=port)
        procs.append(proc)
        started[name] = proc
    for proc in started.values():
        proc.wait_ready()
    return started


def _headers(role: str, sub: str) -> dict[str, str]:
    token = mint(CommonSettings(), sub=sub, roles=[role], org="org-1", source_system="sgf")
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("service", sorted(ROUTES))
def test_third_write_of_one_principal_is_429(limited: dict[str, Proc], service: str) -> None:
    _module, write, role, read = ROUTES[service]
    url = limited[service].url
    me, other = _headers(role, f"rl-{service}-1"), _headers(role, f"rl-{service}-2")
    # invalid bodies are fine: the limit counts writes of an authenticated caller, whatever they carry
    first = [httpx.post(url + write, json={}, headers=me, timeout=10).status_code for _ in range(2)]
    assert 429 not in first
    r = httpx.post(url + write, json={}, headers=me, timeout=10)
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    assert "too many requests" in r.json()["detail"]
    assert httpx.post(url + write, json={}, headers=other, timeout=10).status_code != 429
    assert httpx.get(url + read, headers=me, timeout=10).status_code != 429
    documented = httpx.get(url + "/openapi.json", timeout=10).json()["paths"][write]["post"]["responses"]
    assert "429" in documented
