"""Token sanity (issue 11 item 6): a maximum lifetime, a non-empty sub, iat/nbf not in the future, exp required;
each refusal a 401 with its own reason, never quoting the token."""

from __future__ import annotations

import time
from typing import Annotated, Any

import jwt
import pytest
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from shared.auth import AuthError, Principal, main, mint, require, verify
from shared.settings import CommonSettings

SECRET = "unit-test-secret-0123456789abcdef0123456789"
NOW = 1_900_000_000


@pytest.fixture
def settings() -> CommonSettings:
    return CommonSettings(env="dev", jwt_secret=SECRET)


def token(**claims: Any) -> str:
    body: dict[str, Any] = {"sub": "adv-7", "scope": "legal_advocate", "iss": "centinela", "aud": "centinela"}
    body.update(iat=NOW, exp=NOW + 3600)
    body.update(claims)
    return jwt.encode({k: v for k, v in body.items() if v is not None}, SECRET, algorithm="HS256")


def test_a_normal_token_passes(settings: CommonSettings) -> None:
    assert verify(settings, token(), now=NOW + 10).sub == "adv-7"


@pytest.mark.parametrize(
    ("claims", "reason", "text"),
    [
        ({"exp": NOW + 31 * 365 * 86400}, "lifetime_too_long", "longer than the maximum 12h"),
        ({"exp": NOW + 12 * 3600 + 1}, "lifetime_too_long", "longer than the maximum 12h"),
        ({"sub": ""}, "empty_subject", "subject (sub)"),
        ({"sub": "   "}, "empty_subject", "subject (sub)"),
        ({"sub": None}, "missing_sub", "sub claim is missing"),
        ({"exp": None}, "missing_exp", "exp claim is missing"),
        ({"iat": None}, "missing_iat", "iat claim is missing"),
        ({"iat": NOW + 600, "exp": NOW + 1200}, "issued_in_future", "issued in the future"),
        ({"nbf": NOW + 600}, "not_yet_valid", "not valid yet (nbf)"),
        ({"iat": NOW - 7200, "exp": NOW - 3600}, "expired", "token expired"),
        ({"exp": NOW - 10, "iat": NOW}, "bad_lifetime", "exp <= iat"),
        ({"iat": "yesterday"}, "bad_iat", "iat"),
    ],
    ids=[
        "31-years",
        "12h+1s",
        "empty-sub",
        "blank-sub",
        "no-sub",
        "no-exp",
        "no-iat",
        "iat-future",
        "nbf-future",
        "expired",
        "exp-before-iat",
        "iat-text",
    ],
)
def test_refusals_have_a_distinct_reason(
    settings: CommonSettings, claims: dict[str, Any], reason: str, text: str
) -> None:
    raw = token(**claims)
    with pytest.raises(AuthError) as info:
        verify(settings, raw, now=NOW + 10)
    assert info.value.reason == reason
    assert text in str(info.value)
    assert raw not in str(info.value) and raw.split(".")[1] not in str(info.value)


def test_skew_within_leeway_is_accepted(settings: CommonSettings) -> None:
    assert verify(settings, token(iat=NOW + 30, exp=NOW + 3630, nbf=NOW + 30), now=NOW).sub == "adv-7"


def test_exactly_the_maximum_lifetime_is_accepted(settings: CommonSettings) -> None:
    assert verify(settings, token(exp=NOW + 12 * 3600), now=NOW + 1).sub == "adv-7"


def test_max_lifetime_is_configurable_as_a_duration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_JWT_MAX_LIFETIME", "30min")
    s = CommonSettings(env="dev", jwt_secret=SECRET)
    assert s.jwt_max_lifetime_seconds == 1800
    with pytest.raises(AuthError, match="maximum 30min"):
        verify(s, token(), now=NOW + 10)
    assert verify(s, token(exp=NOW + 1800), now=NOW + 10).sub == "adv-7"


@pytest.mark.parametrize("bad", ["12", "", "soon", "-1h"])
def test_max_lifetime_setting_is_validated(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("CENTINELA_JWT_MAX_LIFETIME", bad)
    with pytest.raises(ValidationError, match="CENTINELA_JWT_MAX_LIFETIME"):
        CommonSettings()


def test_mint_refuses_beyond_the_limit(settings: CommonSettings) -> None:
    with pytest.raises(AuthError, match="CENTINELA_JWT_MAX_LIFETIME"):
        mint(settings, sub="x", roles=["admin"], ttl=13 * 3600)
    with pytest.raises(AuthError, match="non-empty subject"):
        mint(settings, sub=" ", roles=["admin"])
    assert verify(settings, mint(settings, sub="x", roles=["admin"], ttl=12 * 3600)).sub == "x"


def test_cli_within_and_beyond_the_limit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], settings: CommonSettings
) -> None:
    for name in ("CENTINELA_ENV", "CENTINELA_JWT_PUBLIC_KEY", "CENTINELA_JWT_MAX_LIFETIME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CENTINELA_JWT_SECRET", SECRET)
    assert main(["mint", "--role", "admin", "--sub", "ops-1", "--ttl", "8h"]) == 0
    assert verify(settings, capsys.readouterr().out.strip()).sub == "ops-1"
    assert main(["mint", "--role", "admin", "--sub", "ops-1", "--ttl", "90000"]) == 2
    assert "CENTINELA_JWT_MAX_LIFETIME" in capsys.readouterr().err


def test_http_401_names_the_reason_and_never_the_token(settings: CommonSettings) -> None:
    app = FastAPI()
    app.state.settings = settings

    @app.get("/x")
    def x(p: Annotated[Principal, Depends(require("legal_advocate"))]) -> dict[str, str]:
        return {"sub": p.sub}

    client = TestClient(app)
    now = int(time.time())
    long_lived = token(iat=now, exp=now + 31 * 365 * 86400)
    r = client.get("/x", headers={"Authorization": f"Bearer {long_lived}"})
    assert r.status_code == 401
    assert "lifetime" in r.json()["detail"]
    assert 'error="invalid_token"' in r.headers["www-authenticate"]
    assert "lifetime" in r.headers["www-authenticate"]
    assert long_lived.split(".")[1] not in r.text + r.headers["www-authenticate"]
    no_sub = token(sub="", iat=now, exp=now + 60)
    r = client.get("/x", headers={"Authorization": f"Bearer {no_sub}"})
    assert r.status_code == 401 and "subject" in r.json()["detail"]
    ok = token(iat=now, exp=now + 60)
    assert client.get("/x", headers={"Authorization": f"Bearer {ok}"}).json() == {"sub": "adv-7"}
