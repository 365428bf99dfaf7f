"""What every page needs: the signed-in user, their language, CSRF, rendering, HTML errors."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from services.console import i18n
from services.console.adapters.apis import Apis
from services.console.domain.accounts import LANGUAGES, Session, User, safe_next
from services.console.service.accounts import Accounts, utcnow
from services.console.service.oidc import OidcClient
from services.console.settings import ConsoleSettings
from services.console.web import labels

log = logging.getLogger(__name__)

COOKIE = "centinela_session"
LANG_COOKIE = "centinela_lang"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@dataclass
class Console:
    settings: ConsoleSettings
    accounts: Accounts
    apis: Apis
    templates: Jinja2Templates
    fmt: i18n.Formatter
    oidc: OidcClient


class Redirect(Exception):
    def __init__(self, url: str) -> None:
        self.url = url


class PageError(Exception):
    """Answered with an HTML page in the user's language: ``message`` is a msgid."""

    def __init__(self, status: int, message: str, **params: Any) -> None:
        self.status = status
        self.message = message
        self.params = params


@dataclass
class Page:
    request: Request
    console: Console
    session: Session | None
    user: User | None
    lang: str
    translator: Any = field(repr=False, default=None)

    def _(self, msgid: str, **params: Any) -> str:
        text = str(self.translator.gettext(msgid))
        return text % params if params else text

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""

    @property
    def is_htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    def flash(self, msgid: str) -> None:
        if self.session:
            self.console.accounts.sessions.push_flash(self.session.sid_hash, msgid)

    def ensure_session(self) -> Session:
        """An anonymous session to carry a CSRF token for the sign-in form."""
        if self.session is None:
            sid, self.session = self.console.accounts.new_session(utcnow(), language=self.lang)
            self.request.state.set_sid = sid
        return self.session

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        flashes = (
            [self._(m) for m in self.console.accounts.sessions.pop_flash(self.session.sid_hash)]
            if self.session and self.session.flash and not self.is_htmx
            else []
        )
        base = {
            "page": self,
            "user": self.user,
            "lang": self.lang,
            "languages": LANGUAGES,
            "_": self._,
            "csrf": self.csrf,
            "fmt": self.console.fmt,
            "flashes": flashes,
            "settings": self.console.settings,
            "labels": labels,
        }
        base.update(context)
        return self.console.templates.TemplateResponse(self.request, template, base, status_code=status)


def console_of(request: Request) -> Console:
    return request.app.state.console


def _page(request: Request) -> Page:
    cached = getattr(request.state, "page", None)
    if cached is not None:
        return cached
    console = console_of(request)
    accounts = console.accounts
    now = utcnow()
    session = accounts.load_session(request.cookies.get(COOKIE), now)
    if session is None and request.cookies.get(COOKIE):
        request.state.clear_sid = True
    user = None
    if session and session.user_id and session.stage == "full":
        user = accounts.users.get(session.user_id)
        if user is None or not user.active:
            accounts.end(session)
            session, user = None, None
            request.state.clear_sid = True
    lang = i18n.pick_language(
        (user.language if user else None)
        or request.cookies.get(LANG_COOKIE)
        or (session.language if session else None),
        request.headers.get("accept-language"),
        console.settings.console_default_language,
    )
    page = Page(request, console, session, user, lang, i18n.translations(lang))
    request.state.page = page
    return page


def any_page(request: Request) -> Page:
    return _page(request)


def signed_in(request: Request) -> Page:
    page = _page(request)
    if page.user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method == "GET" and request.headers.get("hx-request") != "true" and safe_next(target):
            raise Redirect("/login?" + urlencode({"next": target}))
        raise Redirect("/login")
    return page


AnyPage = Annotated[Page, Depends(any_page)]
SignedIn = Annotated[Page, Depends(signed_in)]


def roles(*allowed: str) -> Callable[[Request], Page]:
    def dependency(request: Request) -> Page:
        page = signed_in(request)
        assert page.user is not None
        if not page.user.has(*allowed):
            raise PageError(403, "Your role does not give access to this page.")
        return page

    return dependency


async def csrf_checked(request: Request) -> Page:
    """Every state-changing request carries the session's CSRF token (form field or htmx header)."""
    page = _page(request)
    token = request.headers.get("x-csrf-token")
    if token is None:
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if not page.console.accounts.csrf_ok(page.session, token):
        raise PageError(403, "This form has expired. Reload the page and try again.")
    return page


Csrf = Annotated[Page, Depends(csrf_checked)]


def redirect(url: str, page: Page | None = None) -> Response:
    """303 after a POST; htmx follows HX-Redirect instead of swapping a whole page into a fragment."""
    if page is not None and page.is_htmx:
        return Response(status_code=204, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)
