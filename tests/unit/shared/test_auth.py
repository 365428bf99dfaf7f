"""JWT bearer auth: mint/verify, rejection reasons, require() as 401/403."""

from __future__ import annotations

import time
from typing import Annotated

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient

from shared.auth import ROLES, AuthError, Principal, main, mint, require, verify
from shared.settings import CommonSettings


@pytest.fixture
def settings() -> CommonSettings:
    return CommonSettings(env="dev", jwt_secret="unit-test-secret-0123456789abcdef0123456789")


def test_mint_then_verify(settings: CommonSettings) -> None:
    token = mint(settings, sub="adv-7", roles=["legal_advocate", "supervisor"], org="org-1", source_system="sgf")
    p = verify(settings, token)
    assert (p.sub, p.org, p.source_system) == ("adv-7", "org-1", "sgf")
    assert p.roles == frozenset({"legal_advocate", "supervisor"})
    assert p.has("supervisor") and not p.has("admin")
    assert p.role == "legal_advocate"  # first of ROLES it holds
    assert p.claims["iss"] == settings.jwt_issuer and p.claims["aud"] == settings.jwt_audience


def test_unknown_roles_in_a_token_are_dropped(settings: CommonSettings) -> None:
    now = int(time.time())
    token = jwt.encode(
        {
            "sub": "x",
            "scope": "legal_advocate root",
            "iss": "centinela",
            "aud": "centinela",
            "iat": now,
            "exp": now + 60,
        },
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    assert verify(settings, token).roles == frozenset({"legal_advocate"})


def test_mint_refuses_unknown_role(settings: CommonSettings) -> None:
    with pytest.raises(AuthError, match="unknown role"):
        mint(settings, sub="x", roles=["root"])


def test_expired(settings: CommonSettings) -> None:
    token = mint(settings, sub="x", roles=["admin"], ttl=-60)
    with pytest.raises(AuthError, match="token expired"):
        verify(settings, token)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"jwt_audience": "someone-else"}, "InvalidAudienceError"),
        ({"jwt_issuer": "someone-else"}, "InvalidIssuerError"),
        ({"jwt_secret": "another-secret-0123456789abcdef0123456789"}, "InvalidSignatureError"),
    ],
    ids=["audience", "issuer", "key"],
)
def test_token_for_another_audience_issuer_or_key(settings: CommonSettings, change: dict[str, str], error: str) -> None:
    token = mint(settings, sub="x", roles=["admin"])
    other = settings.model_copy(update=change)
    if "jwt_secret" in change:
        other = CommonSettings(env="dev", jwt_secret=change["jwt_secret"])
    with pytest.raises(AuthError, match=error):
        verify(other, token)


def test_garbage_token(settings: CommonSettings) -> None:
    with pytest.raises(AuthError, match="invalid token"):
        verify(settings, "not.a.jwt")


def test_require_refuses_unknown_roles_at_definition() -> None:
    with pytest.raises(ValueError, match="unknown roles"):
        require("root")


@pytest.fixture
def client(settings: CommonSettings) -> TestClient:
    app = FastAPI()
    app.state.settings = settings

    @app.get("/advocates-only")
    def advocates_only(p: Annotated[Principal, Depends(require("legal_advocate", "supervisor"))]) -> dict[str, str]:
        return {"sub": p.sub, "org": p.org or ""}

    return TestClient(app)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_require_without_token_is_401(client: TestClient) -> None:
    r = client.get("/advocates-only")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_require_with_bad_token_is_401(client: TestClient, settings: CommonSettings) -> None:
    r = client.get("/advocates-only", headers=_bearer("garbage"))
    assert r.status_code == 401 and "invalid token" in r.json()["detail"]
    expired = mint(settings, sub="x", roles=["legal_advocate"], ttl=-60)
    r = client.get("/advocates-only", headers=_bearer(expired))
    assert r.status_code == 401 and r.json()["detail"] == "token expired"
    r = client.get("/advocates-only", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert r.status_code == 401


def test_require_with_wrong_role_is_403(client: TestClient, settings: CommonSettings) -> None:
    r = client.get("/advocates-only", headers=_bearer(mint(settings, sub="ops-1", roles=["ops_viewer"])))
    assert r.status_code == 403
    assert "legal_advocate" in r.json()["detail"]


@pytest.mark.parametrize("role", ["legal_advocate", "supervisor"])
def test_require_with_a_listed_role_passes(client: TestClient, settings: CommonSettings, role: str) -> None:
    r = client.get("/advocates-only", headers=_bearer(mint(settings, sub="adv-7", roles=[role], org="org-1")))
    assert r.status_code == 200
    assert r.json() == {"sub": "adv-7", "org": "org-1"}


def test_roles_match_design() -> None:
    assert set(ROLES) == {
        "intake_officer",
        "service_provider",
        "legal_advocate",
        "supervisor",
        "court_integrator",
        "ops_viewer",
        "admin",
    }


def test_cli_mints_a_verifiable_token(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CENTINELA_ENV", "dev")
    monkeypatch.delenv("CENTINELA_JWT_SECRET", raising=False)
    monkeypatch.delenv("CENTINELA_JWT_PUBLIC_KEY", raising=False)
    assert main(["mint", "--role", "legal_advocate", "--sub", "adv-7", "--org", "org-1"]) == 0
    token = capsys.readouterr().out.strip()
    p = verify(CommonSettings(), token)
    assert (p.sub, p.org, p.roles) == ("adv-7", "org-1", frozenset({"legal_advocate"}))
