"""Sign-in (password, then TOTP or TOTP enrolment), sign-out, set password by link, language."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from services.console.domain.accounts import LANGUAGES, Stage, password_problem, safe_next
from services.console.metrics import SIGN_INS
from services.console.service.accounts import totp_uri, utcnow
from services.console.web.core import LANG_COOKIE, AnyPage, Csrf, Page, PageError, SignedIn, redirect

router = APIRouter()
LOCKED = "Too many failed attempts: the account is locked for a while. Try again later or ask your administrator."


def step_up(page: Page, user_id: str, now: datetime, stage: Stage, then: str | None = None) -> Response:
    """One more step of sign-in passed: a new session id (an id planted before sign-in never becomes
    a signed-in one), then ``then`` (the next step) or, once signed in, where the user was going."""
    assert page.session is not None
    target = then or safe_next(page.session.next_url) or "/"
    sid, page.session = page.console.accounts.rotate(page.session, now, stage=stage, user_id=user_id)
    page.request.state.set_sid = sid
    return redirect(target)


def home_for(page: Page) -> str:
    user = page.user
    if user and user.has("legal_advocate", "supervisor"):
        return "/inbox"
    if user and user.has("admin") and not user.has("intake_officer", "service_provider"):
        return "/admin/users"
    if user and user.has("ops_viewer") and not user.has("intake_officer", "service_provider"):
        return "/reports"
    return "/cases"


@router.get("/", include_in_schema=False)
def root(page: AnyPage) -> Response:
    return redirect(home_for(page) if page.user else "/login")


@router.get("/login")
def login_form(page: AnyPage, next: Annotated[str | None, Query(max_length=300)] = None) -> Response:  # noqa: A002
    if page.user:
        return redirect(safe_next(next) or home_for(page))
    session = page.ensure_session()
    target = safe_next(next)
    if target and target != session.next_url:
        page.console.accounts.sessions.set(session.sid_hash, next_url=target)
    return page.render("login.html", username="", error=None)


@router.post("/login")
def login(page: Csrf, username: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "") -> Response:
    accounts = page.console.accounts
    assert page.session is not None
    now = utcnow()
    username = username.strip().lower()[:64]
    if not username or not password:
        return page.render("login.html", status=422, username=username, error="Enter your user name and password.")
    result, user = accounts.check_password(username, password[:1024], now)
    SIGN_INS.labels("password", result).inc()
    if result == "locked":
        return page.render(
            "login.html",
            status=423,
            username=username,
            error=LOCKED,
        )
    if result == "bad" or user is None:
        return page.render("login.html", status=401, username=username, error="User name or password is wrong.")
    if result == "ok":
        return step_up(page, user.user_id, now, "full")
    return step_up(page, user.user_id, now, "password_ok", second_factor(result))


def second_factor(result: str) -> str:
    return "/login/totp" if result == "needs_totp" else "/login/enrol"


def _pending(page: Page) -> tuple[Page, str]:
    if not page.session or page.session.stage != "password_ok" or not page.session.user_id:
        raise_to_login()
    assert page.session and page.session.user_id
    return page, page.session.user_id


def raise_to_login() -> None:
    from services.console.web.core import Redirect

    raise Redirect("/login")


@router.get("/login/totp")
def totp_form(page: AnyPage) -> Response:
    _pending(page)
    return page.render("totp.html", error=None, enrol=None)


@router.post("/login/totp")
def totp(page: Csrf, code: Annotated[str, Form()] = "") -> Response:
    _, user_id = _pending(page)
    accounts = page.console.accounts
    user = accounts.users.get(user_id)
    if user is None or not user.active:
        raise_to_login()
    assert user is not None and page.session is not None
    now = utcnow()
    result = accounts.check_totp(user, code[:20], now)
    SIGN_INS.labels("totp", result).inc()
    if result != "ok":
        error = (
            LOCKED if result == "locked" else "The code is wrong or has expired. Type the 6 digits your app shows now."
        )
        return page.render("totp.html", status=401, error=error, enrol=None)
    return step_up(page, user.user_id, now, "full")


@router.get("/login/enrol")
def enrol_form(page: AnyPage) -> Response:
    _, user_id = _pending(page)
    user = page.console.accounts.users.get(user_id)
    assert user is not None
    secret = page.console.accounts.start_enrolment(user)
    return page.render("totp.html", error=None, enrol={"secret": secret, "uri": totp_uri(secret, user.username)})


@router.post("/login/enrol")
def enrol(page: Csrf, code: Annotated[str, Form()] = "") -> Response:
    _, user_id = _pending(page)
    accounts = page.console.accounts
    user = accounts.users.get(user_id)
    assert user is not None and page.session is not None
    now = utcnow()
    enrolled = accounts.finish_enrolment(user, code[:20], now)
    SIGN_INS.labels("enrol", enrolled).inc()
    if enrolled != "ok":
        secret = accounts.start_enrolment(user)
        return page.render(
            "totp.html",
            status=401,
            error="The code is wrong or has expired. Type the 6 digits your app shows now.",
            enrol={"secret": secret, "uri": totp_uri(secret, user.username)},
        )
    return step_up(page, user.user_id, now, "full")


@router.post("/logout")
def logout(page: Csrf) -> Response:
    if page.session:
        page.console.accounts.end(page.session)
    page.request.state.clear_sid = True
    return redirect("/login")


@router.post("/language")
def language(page: Csrf, lang: Annotated[str, Form()] = "es", back: Annotated[str, Form()] = "/") -> Response:
    if lang not in LANGUAGES:
        raise PageError(422, "Unknown language.")
    if page.user:
        page.console.accounts.users.update(page.user.user_id, language=lang)
    if page.session:
        page.console.accounts.sessions.set(page.session.sid_hash, language=lang)
    # only same-site paths: an open redirect would make a phishing link look like ours
    target = back if back.startswith("/") and not back.startswith("//") else "/"
    response = redirect(target)
    response.set_cookie(
        LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", secure=page.console.settings.cookie_secure
    )
    return response


@router.get("/set-password/{token}")
def set_password_form(token: str, page: AnyPage) -> Response:
    if page.console.accounts.links.peek(token[:100], utcnow()) is None:
        raise PageError(404, "This link is not valid any more. Ask your administrator for a new one.")
    page.ensure_session()
    return page.render("set_password.html", token=token, error=None)


@router.post("/set-password/{token}")
def set_password(
    token: str,
    page: Csrf,
    password: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    accounts = page.console.accounts
    now = utcnow()
    if accounts.links.peek(token[:100], now) is None:
        raise PageError(404, "This link is not valid any more. Ask your administrator for a new one.")
    problem = password_problem(password)
    if problem is None and password != confirm:
        problem = "the two passwords are not the same"
    if problem:
        return page.render("set_password.html", status=422, token=token, error=problem)
    user_id = accounts.links.consume(token[:100], now)
    if user_id is None:
        raise PageError(404, "This link is not valid any more. Ask your administrator for a new one.")
    accounts.set_password(user_id, password)
    page.flash("Your password is set. Sign in with it.")
    return redirect("/login")


@router.get("/account")
def account(page: SignedIn) -> Response:
    return page.render("account.html", enrol=None, error=None)


@router.post("/account/totp")
def account_totp(page: Csrf, code: Annotated[str, Form()] = "") -> Response:
    """Optional second factor for roles that do not need one: show the key, then prove it with a code."""
    user = page.user
    if user is None:
        raise_to_login()
    assert user is not None
    accounts = page.console.accounts
    secret = accounts.start_enrolment(user)
    enrol = {"secret": secret, "uri": totp_uri(secret, user.username)}
    if not code:
        return page.render("account.html", enrol=enrol, error=None)
    fresh = accounts.users.get(user.user_id)
    assert fresh is not None
    if accounts.finish_enrolment(fresh, code[:20], utcnow()) != "ok":
        return page.render(
            "account.html",
            status=401,
            enrol=enrol,
            error="The code is wrong or has expired. Type the 6 digits your app shows now.",
        )
    page.flash("Second factor turned on. You will be asked for a code at each sign-in.")
    return redirect("/account")


@router.get("/v1/alerts/{alert_id}", include_in_schema=False)
def alert_link(alert_id: str, request: Request) -> Response:
    """Links in alert e-mails (CENTINELA_PUBLIC_BASE_URL + /v1/alerts/{id}) open the console's page."""
    return redirect(f"/alerts/{alert_id[:64]}")
