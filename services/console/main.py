"""Console ASGI app: ``uvicorn services.console.main:app --port 8004``.

Server-rendered pages (Jinja2, htmx, Pico CSS, all served from ``static/``: no CDN) over the
intake, legal and alerts APIs. Accounts and sessions live in the console's own database; case
data never does.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pymongo import MongoClient
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.console import i18n
from services.console.adapters.apis import Apis
from services.console.service.accounts import Accounts
from services.console.service.oidc import OidcClient
from services.console.settings import ConsoleSettings
from services.console.store.accounts import (
    ExternalIdentityRepository,
    LinkRepository,
    SessionRepository,
    UserRepository,
)
from services.console.web import admin, auth, cases, inbox, oidc, reports, supervisor
from services.console.web.core import COOKIE, TEMPLATES, Console, PageError, Redirect, any_page, redirect
from shared.app import create_app
from shared.logging import setup_logging
from shared.mongo import ping

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def build_console(settings: ConsoleSettings, client: MongoClient, apis: Apis | None = None) -> Console:
    db = client[settings.database]
    identities = ExternalIdentityRepository(db)
    accounts = Accounts(settings, UserRepository(db), SessionRepository(db), LinkRepository(db), identities)
    for repo in (accounts.users, accounts.sessions, accounts.links, identities):
        repo.ensure_indexes()
    templates = Jinja2Templates(directory=str(TEMPLATES))
    return Console(
        settings,
        accounts,
        apis or Apis.from_settings(settings),
        templates,
        i18n.Formatter(settings.console_time_zone),
        OidcClient(settings),
    )


def build_app(
    settings: ConsoleSettings | None = None,
    *,
    client: MongoClient | None = None,
    apis: Apis | None = None,
) -> FastAPI:
    settings = settings or ConsoleSettings()
    setup_logging(settings.log_level)
    for lang in ("es", "en"):
        i18n.translations(lang)  # a broken catalogue stops the start, not a page later
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mongo = client or MongoClient(settings.mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
        state["mongo"] = mongo
        app.state.console = build_console(settings, mongo, apis)
        try:
            yield
        finally:
            app.state.console.apis.close()
            app.state.console.oidc.close()
            if client is None:
                mongo.close()

    app = create_app(
        settings,
        title="centinela console",
        description="The advocates' console: inbox, cases, forms, accounts",
        lifespan=lifespan,
    )
    # the console needs no broker: ready means its database answers
    app.state.ready_checks = {"mongodb": lambda: "mongo" in state and ping(state["mongo"])}
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    for module in (auth, oidc, inbox, cases, admin, supervisor, reports):
        app.include_router(module.router)

    def html_error(request: Request, status: int, message: str, **params: Any) -> Response:
        if request.url.path in ("/healthz", "/readyz", "/metrics"):
            return JSONResponse({"detail": message}, status_code=status)
        try:
            page = any_page(request)
            if request.headers.get("hx-request") == "true":
                # htmx does not swap error answers by default: the message goes in a notice
                return page.render("partials/error.html", status=status, message=message, params=params)
            return page.render("error.html", status=status, message=message, params=params, code=status)
        except Exception:
            log.error("error page failed", exc_info=True)
            return HTMLResponse("<h1>Error</h1>", status_code=status)

    @app.exception_handler(Redirect)
    async def on_redirect(request: Request, exc: Redirect) -> Response:
        if request.headers.get("hx-request") == "true":
            return Response(status_code=204, headers={"HX-Redirect": exc.url})
        return redirect(exc.url)

    @app.exception_handler(PageError)
    async def on_page_error(request: Request, exc: PageError) -> Response:
        return html_error(request, exc.status, exc.message, **exc.params)

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {
            404: "This page does not exist.",
            405: "This page does not exist.",
            413: "What you sent is too large.",
        }
        return html_error(request, exc.status_code, messages.get(exc.status_code, "Something went wrong."))

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Response:
        return html_error(request, 422, "Some of what you sent is not valid. Go back and check the form.")

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled error", extra={"request_id": getattr(request.state, "request_id", None)}, exc_info=True)
        return html_error(
            request,
            500,
            "Our error. Try again; if it repeats, give your administrator the reference %(ref)s.",
            ref=getattr(request.state, "request_id", "-"),
        )

    @app.middleware("http")
    async def cookies_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        response = await call_next(request)
        sid = getattr(request.state, "set_sid", None)
        if sid:
            response.set_cookie(
                COOKIE,
                sid,
                httponly=True,
                samesite="lax",
                secure=settings.cookie_secure,
                path="/",
                max_age=int(settings.console_session_absolute_hours * 3600),
            )
        elif getattr(request.state, "clear_sid", False):
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        else:
            response.headers.setdefault("Cache-Control", "public, max-age=86400")
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return app


def __getattr__(name: str) -> Any:
    # ``app`` is built on first use so that importing this module (tests, tools) has no side effects
    if name == "app":
        value = build_app()
        globals()["app"] = value
        return value
    raise AttributeError(name)
