"""Security of the console through its real HTTP app and its real database (MongoDB server),
with the three APIs replaced by a fake that applies their scoping rules and records each call.

CSRF, session fixation, expiry, lockout, cross-organisation URLs, identity behind role and reason,
and that each API call carries a short-lived token minted for the signed-in person.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from services.console.main import build_app
from services.console.settings import ConsoleSettings
from shared.auth import verify
from tests.integration.console.support import PASSWORD, apis_over, csrf_of, insert_user

pytestmark = pytest.mark.integration
CASE = "cs_org1case"


@dataclass
class FakeApis:
    """Intake, legal and alerts as far as the console uses them, with their 404-outside-scope rule."""

    settings: ConsoleSettings
    calls: list[dict[str, Any]] = field(default_factory=list)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    feeds: dict[str, str] = field(default_factory=dict)

    def handler(self, request: httpx.Request) -> httpx.Response:
        p = verify(self.settings, request.headers["authorization"].split()[1])
        call = {
            "method": request.method,
            "path": request.url.path,
            "params": dict(request.url.params),
            "headers": dict(request.headers),
            "principal": p,
            "host": request.url.host,
        }
        self.calls.append(call)
        path = request.url.path
        if request.url.host == "alerts":
            m = re.fullmatch(r"/v1/alerts/(al_[a-z0-9]+)", path)
            if m and p.sub == "adv-1":
                return httpx.Response(
                    200,
                    json={
                        "id": m.group(1),
                        "case_id": CASE,
                        "rule": "service.overdue",
                        "episode": 1,
                        "severity": "high",
                        "status": "open",
                        "raised_at": "2026-03-01T14:00:00Z",
                        "escalation_level": 1,
                        "link": "x",
                        "evidence": {},
                        "history": [],
                    },
                )
            if m:
                return httpx.Response(404, json={"detail": "alert not found"})
            if request.method == "POST" and re.fullmatch(r"/v1/alerts/al_[a-z0-9]+/(ack|resolve|snooze)", path):
                if p.sub != "adv-1":
                    return httpx.Response(404, json={"detail": "alert not found"})
                return httpx.Response(200, json={"id": path.split("/")[3], "status": "acknowledged"})
            if request.url.params.get("offset") not in (None, "0"):
                return httpx.Response(422, json={"detail": [{"field": "query.offset", "msg": "pages by cursor"}]})
            return httpx.Response(200, json={"items": [], "limit": 200, "next_cursor": None})
        if request.url.host == "reports":
            stats = {"n": 12, "median": 40.0, "p90": 90.0}
            figures = {
                "cases": 25,
                "prosecution": {
                    "cases": 20,
                    "convicted": {"n": 5, "share": 0.25},
                    "acquitted": {"n": None, "share": None},
                    "stage_days": {"trial": stats},
                },
                "rescue_to_psychosocial_days": {**stats, "share_with_session": 0.8},
                "service_coverage": {"coverage": 0.6},
                "followups": {},
                "alerts": None,
            }
            return httpx.Response(
                200, json={"k": 5, "group_by": None, "groups": [{"group": "all", "figures": figures}]}
            )
        if request.url.host == "legal":
            if path == "/v1/calendar/feed" and request.method == "POST":
                secret = uuid.uuid4().hex
                self.feeds[p.sub] = secret
                url = f"http://legal/v1/calendar/feed/{secret}.ics"
                return httpx.Response(201, json={"url": url, "created_at": "2026-03-01T14:00:00Z"})
            if path == "/v1/calendar/feed" and request.method == "DELETE":
                self.feeds.pop(p.sub, None)
                return httpx.Response(204)
            return httpx.Response(404, json={"detail": "no legal timeline for this case"})
        m = re.fullmatch(r"/v1/cases/([^/]+)(/.*)?", path)
        if m:
            case = self.cases.get(m.group(1))
            visible = case is not None and (
                (p.has("intake_officer", "supervisor") and p.org == case["org_id"])
                or (p.has("legal_advocate") and p.sub == case["advocate_id"])
            )
            if not visible:
                return httpx.Response(404, json={"detail": "case not found"})
            assert case is not None
            if request.method == "POST":
                return httpx.Response(201, json={"ok": True})
            if m.group(2) == "/documents":
                return httpx.Response(200, json=[])
            body = dict(case)
            if request.url.params.get("include_identity") == "true" and p.has("intake_officer", "supervisor"):
                body["identity"] = {"given_names": "Rosa", "family_names": "Quispe", "birth_date": "2012-01-02"}
            return httpx.Response(200, json=body)
        if path == "/v1/cases" and request.url.params.get("cursor") == "c2":
            return httpx.Response(200, json={"items": [], "limit": 50, "next_cursor": None, "total": None})
        if path == "/v1/cases":
            if "page" in request.url.params or "page_size" in request.url.params:
                return httpx.Response(500, json={"detail": "the console must page by cursor"})
            items = [
                {"case_id": c["case_id"], "status": c["status"], "registered_at": c["registered_at"]}
                for c in self.cases.values()
                if p.org == c["org_id"]
            ]
            return httpx.Response(200, json={"items": items, "limit": 50, "next_cursor": "c2", "total": len(items)})
            return httpx.Response(
                200, json={"items": [], "limit": 50, "next_cursor": None, "total": 0, "page": 1, "page_size": 50}
            )
        return httpx.Response(404, json={"detail": "not found"})


@dataclass
class Env:
    client: TestClient
    fake: FakeApis
    db: Any
    totp: dict[str, str]

    def user(
        self, username: str, org: str, roles: list[str], *, totp: bool = False, user_id: str | None = None
    ) -> None:
        secret = insert_user(self.db, username, user_id or f"id-{username}", org, roles, totp=totp)
        if secret:
            self.totp[username] = secret


def new_client(app: Any) -> TestClient:
    return TestClient(app, follow_redirects=False)


def sign_in(client: TestClient, username: str, password: str = PASSWORD, totp: str | None = None) -> httpx.Response:
    page = client.get("/login")
    r = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(page.text)})
    if r.status_code == 303 and r.headers["location"] in ("/login/totp", "/login/enrol"):
        form = client.get(r.headers["location"])
        assert totp is not None, "this user needs a second factor"
        r = client.post(r.headers["location"], data={"code": pyotp.TOTP(totp).now(), "csrf_token": csrf_of(form.text)})
    return r


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    db_name = f"test_console_{uuid.uuid4().hex[:10]}"
    settings = ConsoleSettings(
        mongo_uri=os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"),
        mongo_db=db_name,
        console_lockout_threshold=3,
    )
    fake = FakeApis(settings)
    fake.cases[CASE] = {
        "case_id": CASE,
        "version": 1,
        "org_id": "org-1",
        "status": "Active",
        "advocate_id": "adv-1",
        "registered_at": "2026-01-05T15:00:00Z",
        "view": "full",
        "updated_at": "2026-01-05T15:00:00Z",
        "services": [],
        "sessions": [],
        "risk_flags": [],
    }
    apis = apis_over(settings, httpx.MockTransport(fake.handler))
    mongo: MongoClient = MongoClient(settings.mongo_uri, tz_aware=True)
    app = build_app(settings, client=mongo, apis=apis)
    with TestClient(app) as lifespan_client:
        e = Env(lifespan_client, fake, mongo[db_name], {})
        e.user("adv1", "org-1", ["legal_advocate"], user_id="adv-1")
        e.user("adv2", "org-2", ["legal_advocate"], user_id="adv-2")
        e.user("officer1", "org-1", ["intake_officer"], totp=True)
        e.user("admin1", "org-1", ["admin"], totp=True)
        e.user("admin2", "org-2", ["admin"], totp=True)
        e.user("locky", "org-1", ["legal_advocate"])
        e.user("expiring", "org-1", ["legal_advocate"])
        e.user("fixme", "org-1", ["legal_advocate"])
        yield e
    mongo.drop_database(db_name)
    mongo.close()


def test_forms_without_the_csrf_token_are_refused(env: Env) -> None:
    c = new_client(env.client.app)
    assert sign_in(c, "adv1").status_code == 303
    before = len(env.fake.calls)
    r = c.post(f"/cases/{CASE}/risk-flags", data={"kind": "threat_received", "severity": "high"})
    assert r.status_code == 403
    assert "text/html" in r.headers["content-type"]
    assert "Este formulario venció" in r.text
    r = c.post(f"/cases/{CASE}/risk-flags", data={"kind": "threat_received", "severity": "high", "csrf_token": "x"})
    assert r.status_code == 403
    r = c.post(
        f"/cases/{CASE}/risk-flags",
        data={"kind": "threat_received", "severity": "high"},
        headers={"X-CSRF-Token": "forged"},
    )
    assert r.status_code == 403
    assert len(env.fake.calls) == before  # nothing reached the API
    # the sign-in form is protected too (login CSRF)
    anon = new_client(env.client.app)
    assert anon.post("/login", data={"username": "adv1", "password": PASSWORD}).status_code == 403
    # with the token it works
    page = c.get(f"/cases/{CASE}")
    r = c.post(
        f"/cases/{CASE}/risk-flags",
        data={"kind": "threat_received", "severity": "high", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 303, r.text


def test_a_planted_session_id_never_becomes_a_signed_in_one(env: Env) -> None:
    c = new_client(env.client.app)
    c.cookies.set("centinela_session", "attacker-chosen-value", domain="testserver.local")
    page = c.get("/login")
    planted = page.cookies.get("centinela_session")
    assert planted and planted != "attacker-chosen-value"  # unknown ids are replaced, never adopted
    anonymous_sid = c.cookies.get("centinela_session")
    r = c.post("/login", data={"username": "fixme", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    signed_in_sid = c.cookies.get("centinela_session")
    assert signed_in_sid and signed_in_sid != anonymous_sid
    assert c.get("/inbox").status_code == 200
    # whoever held the pre-sign-in id (e.g. planted it) is not signed in
    attacker = new_client(env.client.app)
    attacker.cookies.set("centinela_session", anonymous_sid, domain="testserver.local")
    assert attacker.get("/inbox").headers.get("location", "").startswith("/login")


def test_cookie_flags(env: Env) -> None:
    c = new_client(env.client.app)
    r = c.get("/login")
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "content-security-policy" in r.headers


def test_an_expired_session_signs_the_user_out(env: Env) -> None:
    c = new_client(env.client.app)
    assert sign_in(c, "expiring").status_code == 303
    assert c.get("/inbox").status_code == 200
    old = datetime.now(UTC) - timedelta(hours=1)
    env.db["sessions"].update_many({"user_id": "id-expiring"}, {"$set": {"last_seen_at": old}})
    r = c.get("/inbox")
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert env.db["sessions"].count_documents({"user_id": "id-expiring"}) == 0
    # absolute expiry: recent activity does not save a session created too long ago
    assert sign_in(c, "expiring").status_code == 303
    env.db["sessions"].update_many(
        {"user_id": "id-expiring"}, {"$set": {"created_at": datetime.now(UTC) - timedelta(hours=13)}}
    )
    assert c.get("/inbox").status_code == 303


def test_repeated_failures_lock_the_account(env: Env) -> None:
    c = new_client(env.client.app)
    for _ in range(2):
        assert sign_in(c, "locky", password="wrong password").status_code == 401
    r = sign_in(c, "locky", password="wrong password")
    assert r.status_code == 423
    assert "bloqueada" in r.text
    r = sign_in(c, "locky")  # the right password while locked
    assert r.status_code == 423
    env.db["users"].update_one(
        {"_id": "id-locky"}, {"$set": {"locked_until": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert sign_in(c, "locky").status_code == 303


def test_roles_that_see_identity_cannot_skip_the_second_factor(env: Env) -> None:
    c = new_client(env.client.app)
    page = c.get("/login")
    r = c.post("/login", data={"username": "officer1", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.headers["location"] == "/login/totp"
    assert c.get("/cases").headers["location"].startswith("/login")  # password alone is not signed in
    form = c.get("/login/totp")
    r = c.post("/login/totp", data={"code": "000000", "csrf_token": csrf_of(form.text)})
    assert r.status_code == 401


def test_a_user_of_org_2_gets_nothing_from_org_1_urls(env: Env) -> None:
    c = new_client(env.client.app)
    assert sign_in(c, "adv2").status_code == 303
    r = c.get(f"/cases/{CASE}")
    assert r.status_code == 404
    assert "no existe o no está asignado a ti" in r.text
    assert CASE not in r.text.replace(f"/cases/{CASE}", "")
    admin2 = new_client(env.client.app)
    assert sign_in(admin2, "admin2", totp=env.totp["admin2"]).status_code == 303
    users = admin2.get("/admin/users")
    assert "adv1" not in users.text and "adv2" in users.text
    r = admin2.post("/admin/users/adv-1/deactivate", data={"csrf_token": csrf_of(users.text)})
    assert r.status_code == 404
    r = admin2.post("/admin/users/adv-1/reset", data={"csrf_token": csrf_of(users.text)})
    assert r.status_code == 404
    assert env.db["users"].find_one({"_id": "adv-1"})["active"] is True


def test_identity_needs_the_role_and_a_stated_reason(env: Env) -> None:
    adv = new_client(env.client.app)
    assert sign_in(adv, "adv1").status_code == 303
    page = adv.get(f"/cases/{CASE}")
    assert page.status_code == 200
    assert 'id="h-identity"' not in page.text
    before = len(env.fake.calls)
    r = adv.post(f"/cases/{CASE}/identity", data={"reason": "quiero ver el nombre", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 403
    assert "Rosa" not in r.text
    assert len(env.fake.calls) == before  # intake was never asked to decrypt

    officer = new_client(env.client.app)
    assert sign_in(officer, "officer1", totp=env.totp["officer1"]).status_code == 303
    page = officer.get(f"/cases/{CASE}")
    assert 'id="h-identity"' in page.text and "Rosa" not in page.text
    r = officer.post(f"/cases/{CASE}/identity", data={"reason": "corto", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "al menos 10 caracteres" in r.text and "Rosa" not in r.text
    r = officer.post(
        f"/cases/{CASE}/identity", data={"reason": "coordinar la audiencia de mañana", "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 200 and "Rosa" in r.text
    call = [c for c in env.fake.calls if c["params"].get("include_identity") == "true"][-1]
    assert call["headers"]["x-access-reason"] == "coordinar la audiencia de manana"


def test_api_calls_carry_a_short_lived_token_for_the_person(env: Env) -> None:
    c = new_client(env.client.app)
    assert sign_in(c, "adv1").status_code == 303
    c.get(f"/cases/{CASE}")
    call = [x for x in env.fake.calls if x["path"] == f"/v1/cases/{CASE}"][-1]
    p = call["principal"]
    assert p.sub == "adv-1" and p.org == "org-1" and p.roles == frozenset({"legal_advocate"})
    assert p.claims["exp"] - p.claims["iat"] <= 300


def test_errors_are_pages_in_the_users_language_never_json(env: Env) -> None:
    c = new_client(env.client.app)
    r = c.get("/no/such/page")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"]
    assert "Esta página no existe." in r.text
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)
    r = c.get("/no/such/page", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert "This page does not exist." in r.text and 'lang="en"' in r.text
    assert sign_in(c, "adv1").status_code == 303
    page = c.get(f"/cases/{CASE}/legal-events/new")
    r = c.post(
        f"/cases/{CASE}/legal-events",
        data={"kind": "hearing_held", "occurred_at_date": "2099-01-01", "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 422
    assert "no puede ser una fecha futura" in r.text and "Este campo es obligatorio." in r.text
    assert "Traceback" not in r.text


def test_an_invitation_sets_a_password_once_and_a_reset_voids_it(env: Env) -> None:
    admin = new_client(env.client.app)
    assert sign_in(admin, "admin1", totp=env.totp["admin1"]).status_code == 303
    users = admin.get("/admin/users")
    r = admin.post(
        "/admin/users",
        data={
            "username": "nueva",
            "user_id": "adv-9",
            "roles": "legal_advocate",
            "language": "es",
            "csrf_token": csrf_of(users.text),
        },
    )
    assert r.status_code == 200, r.text
    link = re.search(r'id="one-time-link">[^<]*(/set-password/[^<]+)<', r.text)
    assert link
    path = link.group(1)
    assert env.db["users"].find_one({"_id": "adv-9"})["org"] == "org-1"  # the admin's organisation, always

    person = new_client(env.client.app)
    form = person.get(path)
    r = person.post(path, data={"password": "corta", "confirm": "corta", "csrf_token": csrf_of(form.text)})
    assert r.status_code == 422 and "al menos 12 caracteres" in r.text
    new_password = "mi nueva contraseña segura"
    r = person.post(path, data={"password": new_password, "confirm": new_password, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 303
    assert person.get(path).status_code == 404  # used up
    assert sign_in(person, "nueva", password=new_password).status_code == 303
    assert person.get("/inbox").status_code == 200

    users = admin.get("/admin/users")
    r = admin.post("/admin/users/adv-9/reset", data={"csrf_token": csrf_of(users.text)})
    assert r.status_code == 200 and "/set-password/" in r.text
    assert person.get("/inbox").headers.get("location", "").startswith("/login")  # sessions ended
    assert sign_in(new_client(env.client.app), "nueva", password=new_password).status_code == 401


def test_a_role_change_ends_the_users_sessions(env: Env) -> None:
    env.user("cambia", "org-1", ["legal_advocate"])
    person = new_client(env.client.app)
    assert sign_in(person, "cambia").status_code == 303
    env.user("admin1b", "org-1", ["admin"], totp=True)  # its own TOTP window: a code is usable once
    admin = new_client(env.client.app)
    assert sign_in(admin, "admin1b", totp=env.totp["admin1b"]).status_code == 303
    users = admin.get("/admin/users")
    r = admin.post(
        "/admin/users/id-cambia/roles", data={"roles": "service_provider", "csrf_token": csrf_of(users.text)}
    )
    assert r.status_code == 303
    assert person.get("/inbox").headers.get("location", "").startswith("/login")
    assert env.db["users"].find_one({"_id": "id-cambia"})["roles"] == ["service_provider"]


def test_optional_second_factor_for_an_advocate(env: Env) -> None:
    env.user("opcional", "org-1", ["legal_advocate"])
    c = new_client(env.client.app)
    assert sign_in(c, "opcional").status_code == 303
    page = c.get("/account")
    r = c.post("/account/totp", data={"csrf_token": csrf_of(page.text)})
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', r.text)
    assert secret
    r = c.post("/account/totp", data={"code": "000000", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 401
    r = c.post("/account/totp", data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    again = new_client(env.client.app)
    page = again.get("/login")
    r = again.post("/login", data={"username": "opcional", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.headers["location"] == "/login/totp"


def test_supervision_is_for_supervisors(env: Env) -> None:
    adv = new_client(env.client.app)
    assert sign_in(adv, "adv1").status_code == 303
    r = adv.get("/supervisor")
    assert r.status_code == 403 and "Tu rol no da acceso a esta página." in r.text
    env.user("super1", "org-1", ["supervisor"], totp=True)
    sup = new_client(env.client.app)
    assert sign_in(sup, "super1", totp=env.totp["super1"]).status_code == 303
    r = sup.get("/supervisor")
    assert r.status_code == 200 and "Casos sin abogado/a" in r.text
    assert sup.get("/agenda").status_code == 200
    r = sup.get("/reports")
    assert r.status_code == 200 and "Acceso a la justicia" in r.text
    assert "Condena" in r.text and "25 %" in r.text and "—*" in r.text  # a suppressed figure says so
    call = [c for c in env.fake.calls if c["host"] == "reports"][-1]
    assert call["principal"].org == "org-1" and call["principal"].has("supervisor")
    assert adv.get("/reports").status_code == 403


def test_an_alert_e_mail_link_opens_the_alert_after_sign_in(env: Env) -> None:
    c = new_client(env.client.app)
    r = c.get("/v1/alerts/al_0123abcd")  # CENTINELA_PUBLIC_BASE_URL of the alerts service = the console
    assert r.headers["location"] == "/alerts/al_0123abcd"
    r = c.get("/alerts/al_0123abcd")
    assert r.headers["location"] == "/login?next=%2Falerts%2Fal_0123abcd"
    page = c.get(r.headers["location"])
    r = c.post("/login", data={"username": "adv1", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.headers["location"] == "/alerts/al_0123abcd"
    r = c.get("/alerts/al_0123abcd")
    assert r.status_code == 200 and "Sesión planificada sin registrar" in r.text and "Escalada (nivel 1)" in r.text
    # never a redirect off the site
    anon = new_client(env.client.app)
    page = anon.get("/login", params={"next": "//evil.example/x"})
    r = anon.post("/login", data={"username": "adv1", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.headers["location"] == "/inbox" or r.headers["location"] == "/"


def test_metrics_count_sign_ins_and_api_calls_without_users_or_cases(env: Env) -> None:
    c = new_client(env.client.app)
    sign_in(c, "adv1")
    c.get(f"/cases/{CASE}")
    text = c.get("/metrics").text
    assert 'centinela_console_sign_ins_total{outcome="ok",step="password"}' in text
    assert 'centinela_console_api_calls_total{api="intake",outcome="ok"}' in text
    assert CASE not in text and "adv-1" not in text
    ready = c.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"mongodb": "ok"}


def test_an_acknowledgement_says_so_outside_the_list_the_live_stream_refreshes(env: Env) -> None:
    """The alerts service applies an ack at once and its stream makes the inbox re-read the list a
    few milliseconds after the action's own answer: the outcome must not live inside that list."""
    c = new_client(env.client.app)
    assert sign_in(c, "adv1").status_code == 303
    inbox = c.get("/inbox")
    assert '<div id="inbox-notice"' in inbox.text
    token = csrf_of(inbox.text)
    r = c.post(
        "/alerts/al_0123abcd/ack",
        data={"comment": "llamando al albergue", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert re.search(
        r'<div id="inbox-notice" hx-swap-oob="true">\s*<p class="notice" role="status">Alerta en atención', r.text
    )
    ack = [x for x in env.fake.calls if x["method"] == "POST" and x["path"].endswith("/ack")]
    assert ack and ack[-1]["principal"].sub == "adv-1"
    # a plain refresh of the list carries no notice, so it cannot wipe the one shown
    assert "inbox-notice" not in c.get("/inbox/list").text


def test_cases_page_by_cursor_and_the_agenda_offers_a_calendar_link(env: Env) -> None:
    c = new_client(env.client.app)
    assert sign_in(c, "adv1").status_code == 303
    r = c.get("/cases")
    assert r.status_code == 200 and CASE in r.text
    assert 'href="/cases?status=&amp;cursor=c2"' in r.text and "Más casos" in r.text
    assert c.get("/cases", params={"cursor": "c2"}).status_code == 200
    env.fake.cases[CASE]["known_elsewhere"] = True
    env.fake.cases[CASE]["methods_of_control"] = ["WithholdsDocuments", "Threats"]
    env.fake.cases[CASE]["trafficking_status"] = "PossibleVictimOfTrafficking"
    case_page = c.get(f"/cases/{CASE}").text
    assert "Registrado también en otra organización" in case_page
    assert "Retiene los documentos, Amenazas" in case_page
    assert "Posible víctima de trata" in case_page
    adv = c
    page = adv.get("/agenda")
    assert "Suscripción de calendario" in page.text
    token = csrf_of(page.text)
    r = adv.post("/agenda/feed/rotate", data={"csrf_token": token})
    assert r.status_code == 200 and env.fake.feeds["adv-1"] in r.text
    r = adv.post("/agenda/feed/revoke", data={"csrf_token": token})
    assert r.status_code == 303 and "adv-1" not in env.fake.feeds
    assert adv.post("/agenda/feed/rotate").status_code == 403  # CSRF
