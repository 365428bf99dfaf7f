"""Sign-in through an external OpenID Connect provider, against a real provider on a loopback port
(``oidc_provider.py``: discovery, authorize, token, JWKS, RS256 keys made here) and the console's
real database. The console's calls to the provider are real HTTP; so are the browser's legs, which
this test walks by hand (console -> provider's authorize -> console's callback).

The APIs behind the pages are a fake: they are not what is tested here.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from services.console.main import build_app
from services.console.settings import ConsoleSettings
from tests.integration.console.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, running_provider
from tests.integration.console.support import PASSWORD, apis_over, csrf_of, insert_user

pytestmark = pytest.mark.integration


def _apis_handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/alerts":
        return httpx.Response(200, json={"items": [], "limit": 200, "next_cursor": None})
    return httpx.Response(404, json={"detail": "not found"})


@dataclass
class Env:
    app: Any
    provider: Provider
    db: Any
    totp: dict[str, str]
    admins: dict[str, TestClient] = field(default_factory=dict)

    def user(self, username: str, roles: list[str], *, org: str = "org-1", totp: bool = False) -> str:
        secret = insert_user(self.db, username, f"id-{username}", org, roles, totp=totp)
        if secret:
            self.totp[username] = secret
        return f"id-{username}"


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    db_name = f"test_console_oidc_{uuid.uuid4().hex[:10]}"
    with running_provider() as provider:
        settings = ConsoleSettings(
            mongo_uri=os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"),
            mongo_db=db_name,
            console_public_url="http://testserver",
            console_oidc_issuer=provider.url,
            console_oidc_client_id=CLIENT_ID,
            console_oidc_client_secret=CLIENT_SECRET,
            console_oidc_name="Proveedor de prueba",
        )
        apis = apis_over(settings, httpx.MockTransport(_apis_handler))
        mongo: MongoClient = MongoClient(settings.mongo_uri, tz_aware=True)
        app = build_app(settings, client=mongo, apis=apis)
        with TestClient(app):
            e = Env(app, provider, mongo[db_name], {})
            e.user("admin1", ["admin"], totp=True)
            e.user("admin2", ["admin"], org="org-2", totp=True)
            yield e
        mongo.drop_database(db_name)
        mongo.close()


def client(env: Env) -> TestClient:
    return TestClient(env.app, follow_redirects=False)


def password_sign_in(c: TestClient, env: Env, username: str) -> None:
    page = c.get("/login")
    r = c.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    form = c.get(r.headers["location"])
    code = pyotp.TOTP(env.totp[username]).now()
    r = c.post(r.headers["location"], data={"code": code, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 303 and r.headers["location"] == "/"


def admin_client(env: Env, admin: str) -> TestClient:
    """One signed-in client per admin: a TOTP code is good once, so each admin signs in once."""
    if admin not in env.admins:
        env.admins[admin] = client(env)
        password_sign_in(env.admins[admin], env, admin)
    return env.admins[admin]


def link(env: Env, admin: str, user_id: str, subject: str) -> httpx.Response:
    c = admin_client(env, admin)
    page = c.get("/admin/users")
    return c.post(f"/admin/users/{user_id}/oidc", data={"subject": subject, "csrf_token": csrf_of(page.text)})


def to_provider(c: TestClient, path: str = "/login/oidc") -> str:
    """The console's redirect to the provider's authorization endpoint."""
    r = c.get(path)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def through_provider(env: Env, authorize_url: str) -> str:
    """The browser at the provider: it approves at once and sends the browser back with a code."""
    r = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert r.status_code == 302, (r.status_code, env.provider.refusals)
    back = urlsplit(r.headers["location"])
    assert f"{back.scheme}://{back.netloc}" == "http://testserver" and back.path == "/login/oidc/callback"
    return f"{back.path}?{back.query}"


def oidc_sign_in(env: Env, c: TestClient, login: dict[str, Any]) -> httpx.Response:
    env.provider.next_login = login
    return c.get(through_provider(env, to_provider(c)))


def test_a_linked_user_signs_in_through_the_provider(env: Env) -> None:
    user_id = env.user("ana", ["legal_advocate"])
    assert link(env, "admin1", user_id, "ana-at-provider").status_code == 303
    c = client(env)
    assert "Proveedor de prueba" in c.get("/login").text  # the button names the provider
    authorize = to_provider(c)
    query = {k: v[0] for k, v in parse_qs(urlsplit(authorize).query).items()}
    assert authorize.startswith(f"{env.provider.url}/authorize?")
    assert query["code_challenge_method"] == "S256" and len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    assert query["redirect_uri"] == "http://testserver/login/oidc/callback"
    anonymous = c.cookies.get("centinela_session")
    env.provider.next_login = {"sub": "ana-at-provider"}
    callback = through_provider(env, authorize)
    r = c.get(callback)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert c.cookies.get("centinela_session") not in (None, anonymous)  # a new session id after sign-in
    assert c.get("/inbox").status_code == 200
    assert env.db["sessions"].count_documents({"user_id": user_id, "stage": "full"}) == 1
    # the provider saw the whole exchange: discovery, keys, a code redeemed with the PKCE verifier
    assert {"GET /.well-known/openid-configuration", "GET /jwks", "POST /token"} <= set(env.provider.requests)
    # the same answer replayed (a stolen callback URL) signs no one in
    thief = client(env)
    thief.get("/login")
    r = thief.get(callback)
    assert r.status_code == 400 and "no se completó" in r.text
    assert thief.get("/inbox").status_code == 303


def test_an_identity_nobody_linked_is_refused_with_a_clear_message(env: Env) -> None:
    c = client(env)
    r = oidc_sign_in(env, c, {"sub": "stranger"})
    assert r.status_code == 403
    assert "no está vinculada a un usuario de esta consola" in r.text
    assert c.get("/inbox").status_code == 303


def test_a_deactivated_user_is_refused(env: Env) -> None:
    user_id = env.user("beto", ["legal_advocate"])
    assert link(env, "admin1", user_id, "beto-at-provider").status_code == 303
    env.db["users"].update_one({"_id": user_id}, {"$set": {"active": False}})
    c = client(env)
    r = oidc_sign_in(env, c, {"sub": "beto-at-provider"})
    assert r.status_code == 403 and "está desactivado" in r.text
    assert c.get("/inbox").status_code == 303


def test_roles_that_see_identity_still_type_their_code_unless_the_provider_checked_a_second_factor(
    env: Env,
) -> None:
    user_id = env.user("carla", ["supervisor"], totp=True)
    assert link(env, "admin1", user_id, "carla-at-provider").status_code == 303
    c = client(env)
    r = oidc_sign_in(env, c, {"sub": "carla-at-provider", "amr": ["pwd"]})
    assert r.status_code == 303 and r.headers["location"] == "/login/totp"
    assert c.get("/supervisor").status_code == 303  # not signed in until the code
    form = c.get("/login/totp")
    r = c.post("/login/totp", data={"code": pyotp.TOTP(env.totp["carla"]).now(), "csrf_token": csrf_of(form.text)})
    assert r.status_code == 303
    assert c.get("/supervisor").status_code == 200
    # the provider asserts it checked a second factor (amr "mfa"): no TOTP asked
    c2 = client(env)
    r = oidc_sign_in(env, c2, {"sub": "carla-at-provider", "amr": ["pwd", "mfa"]})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert c2.get("/supervisor").status_code == 200


@pytest.mark.parametrize(
    "tamper",
    [
        {"nonce": "not-the-one-sent"},
        {"aud": "another-client"},
        {"iss": "http://127.0.0.1:1/another-issuer"},
        {"exp": 1_000_000_000, "iat": 999_999_000},
        {"nonce": None},
        {"azp": "another-client"},
        {"_foreign_key": True},
        {"_hs256": True},
    ],
    ids=["nonce", "aud", "iss", "exp", "no-nonce", "azp", "signature", "hs256-with-client-secret"],
)
def test_an_id_token_that_does_not_verify_signs_no_one_in(env: Env, tamper: dict[str, Any]) -> None:
    if env.db["external_identities"].count_documents({"subject": "dora-at-provider"}) == 0:
        user_id = env.user("dora", ["legal_advocate"])
        assert link(env, "admin1", user_id, "dora-at-provider").status_code == 303
    c = client(env)
    env.provider.tamper = tamper
    try:
        r = oidc_sign_in(env, c, {"sub": "dora-at-provider"})
    finally:
        env.provider.tamper = {}
    assert r.status_code == 400 and "no se completó" in r.text
    assert c.get("/inbox").status_code == 303
    # untampered, the same user gets in: the refusal was the token's
    assert oidc_sign_in(env, client(env), {"sub": "dora-at-provider"}).status_code == 303


def test_a_forged_state_or_a_provider_error_is_refused(env: Env) -> None:
    c = client(env)
    authorize = to_provider(c)
    env.provider.next_login = {"sub": "stranger"}
    callback = through_provider(env, authorize)
    forged = re.sub(r"state=[^&]+", "state=forged", callback)
    assert c.get(forged).status_code == 400
    c2 = client(env)
    state = parse_qs(urlsplit(to_provider(c2)).query)["state"][0]
    r = c2.get(f"/login/oidc/callback?error=access_denied&state={state}")
    assert r.status_code == 400 and "no se completó" in r.text
    assert c2.get("/inbox").status_code == 303


def test_a_key_rotated_at_the_provider_is_fetched_again(env: Env) -> None:
    user_id = env.user("eva", ["legal_advocate"])
    assert link(env, "admin1", user_id, "eva-at-provider").status_code == 303
    assert oidc_sign_in(env, client(env), {"sub": "eva-at-provider"}).status_code == 303
    env.provider.rotate_key()
    env.app.state.console.oidc._jwks = None  # as after the console's one-hour cache
    before = env.provider.requests.count("GET /jwks")
    assert oidc_sign_in(env, client(env), {"sub": "eva-at-provider"}).status_code == 303
    assert env.provider.requests.count("GET /jwks") == before + 1


def test_linking_is_an_org_admins_and_one_identity_signs_in_one_user(env: Env) -> None:
    first = env.user("fede", ["legal_advocate"])
    second = env.user("gabi", ["legal_advocate"])
    assert link(env, "admin1", first, "shared-at-provider").status_code == 303
    r = link(env, "admin1", second, "shared-at-provider")
    assert r.status_code == 409 and "ya está vinculada a otro usuario" in r.text
    # an admin of another organisation cannot link (or see) org-1's users
    assert link(env, "admin2", second, "gabi-at-provider").status_code == 404
    # a user cannot link themselves: the route is the admin's
    c = client(env)
    assert oidc_sign_in(env, c, {"sub": "shared-at-provider"}).status_code == 303
    page = c.get("/inbox")
    r = c.post(f"/admin/users/{first}/oidc", data={"subject": "mine", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 403
    # the admin page shows the link; an empty value unlinks it and the identity stops working
    admin = admin_client(env, "admin1")
    page = admin.get("/admin/users")
    assert 'value="shared-at-provider"' in page.text
    r = admin.post(f"/admin/users/{first}/oidc", data={"subject": "", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert oidc_sign_in(env, client(env), {"sub": "shared-at-provider"}).status_code == 403


def test_a_provider_that_does_not_answer_gives_a_clear_page(env: Env) -> None:
    oidc = env.app.state.console.oidc
    saved = oidc.settings.console_oidc_issuer
    oidc._discovery = None
    oidc.settings.console_oidc_issuer = "http://127.0.0.1:9/nothing-here"
    try:
        r = client(env).get("/login/oidc")
    finally:
        oidc.settings.console_oidc_issuer = saved
    assert r.status_code == 503 and "no responde" in r.text


def test_without_settings_there_is_no_provider_sign_in() -> None:
    settings = ConsoleSettings(mongo_uri=os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"))
    assert not settings.console_oidc_issuer
    with pytest.raises(ValueError, match="CLIENT_ID"):
        ConsoleSettings(console_oidc_issuer="https://id.example.org")
    with pytest.raises(ValueError, match="https"):
        ConsoleSettings(env="prod", console_oidc_issuer="http://id.example.org", console_oidc_client_id="c")
