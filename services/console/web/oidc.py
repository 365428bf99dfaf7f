"""Sign-in through the organisation's OpenID Connect provider (optional, see ``service/oidc.py``).

``GET /login/oidc`` sends the browser to the provider; ``GET /login/oidc/callback`` takes its
answer. The identity the provider asserts signs in only the console user an admin linked it to,
and only while that user is active. Roles that must prove a second factor (TOTP_REQUIRED_ROLES)
still type their TOTP code unless the provider says, in the ID token's ``amr``, that it checked
a second factor itself (CENTINELA_CONSOLE_OIDC_MFA_AMR).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Query
from fastapi.responses import RedirectResponse, Response

from services.console.domain.accounts import safe_next
from services.console.metrics import SIGN_INS
from services.console.service.accounts import utcnow
from services.console.service.oidc import OidcError, Pending
from services.console.store.accounts import IdentityTaken
from services.console.web.auth import second_factor, step_up
from services.console.web.core import AnyPage, Csrf, Page, PageError, redirect, roles
from services.console.web.labels import N_

log = logging.getLogger(__name__)
router = APIRouter()

NOT_SET_UP = N_("Sign-in with your organisation's account is not set up.")
FAILED = N_("The sign-in with your organisation's account did not complete. Try again.")
UNAVAILABLE = N_("Your organisation's sign-in service is not answering. Try again in a moment.")
UNLINKED = N_("Your organisation's account is not linked to a user of this console. Ask your administrator to link it.")
INACTIVE = N_("This user of the console is deactivated. Ask your administrator.")


def _refuse(page: Page, status: int, message: str, outcome: str) -> Response:
    SIGN_INS.labels("oidc", outcome).inc()
    # the message is about the provider's account, not the user name field of the form
    return page.render("login.html", status=status, username="", error=message, provider_error=True)


@router.get("/login/oidc")
def oidc_start(page: AnyPage, next: Annotated[str | None, Query(max_length=300)] = None) -> Response:  # noqa: A002
    client = page.console.oidc
    if not client.enabled:
        raise PageError(404, NOT_SET_UP)
    session = page.ensure_session()
    try:
        url, pending = client.start(utcnow())
    except OidcError as exc:
        log.warning("oidc sign-in could not start: %s", exc.reason)
        return _refuse(page, 503 if exc.unavailable else 502, UNAVAILABLE if exc.unavailable else FAILED, "failed")
    changes: dict[str, object] = {"oidc": pending.as_doc()}
    target = safe_next(next)
    if target:
        changes["next_url"] = target
    page.console.accounts.sessions.set(session.sid_hash, **changes)
    return RedirectResponse(url, status_code=303)


@router.get("/login/oidc/callback")
def oidc_callback(
    page: AnyPage,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2048)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    client = page.console.oidc
    accounts = page.console.accounts
    if not client.enabled:
        raise PageError(404, NOT_SET_UP)
    session = page.ensure_session()
    pending = Pending.from_doc(session.oidc)
    # the pending sign-in is used once, whatever the answer: a replayed callback finds nothing
    accounts.sessions.set(session.sid_hash, oidc=None)
    now = utcnow()
    try:
        identity = client.finish(pending, {"state": state, "code": code, "error": error}, now)
    except OidcError as exc:
        log.warning("oidc sign-in refused: %s", exc.reason)
        if exc.unavailable:
            return _refuse(page, 503, UNAVAILABLE, "unavailable")
        return _refuse(page, 400, FAILED, "failed")
    user_id = accounts.identities.user_of(client.issuer, identity.subject) if accounts.identities else None
    user = accounts.users.get(user_id) if user_id else None
    if user is None:
        log.warning("oidc sign-in refused: identity not linked to a console user")
        return _refuse(page, 403, UNLINKED, "unlinked")
    if not user.active:
        log.warning("oidc sign-in refused: console user deactivated")
        return _refuse(page, 403, INACTIVE, "inactive")
    # the second factor: the console's TOTP, unless the provider says it checked one itself
    code_needed = user.needs_totp and not identity.mfa
    result = ("needs_totp" if user.totp_enrolled else "needs_enrolment") if code_needed else "ok"
    SIGN_INS.labels("oidc", result).inc()
    if result == "ok":
        accounts.users.record_failure(user.user_id, 0, None)
        return step_up(page, user.user_id, now, "full")
    return step_up(page, user.user_id, now, "password_ok", second_factor(result))


@router.post("/admin/users/{user_id}/oidc")
def link_identity(user_id: str, page: Csrf, subject: Annotated[str, Form(max_length=256)] = "") -> Response:
    """An organisation admin links (or, with an empty value, unlinks) a user's provider identity."""
    admin = roles("admin")(page.request)
    assert admin.user is not None
    accounts = page.console.accounts
    target = accounts.users.get(user_id[:64])
    if target is None or target.org != admin.user.org:
        raise PageError(404, "This user does not exist in your organisation.")
    client = page.console.oidc
    if not client.enabled or accounts.identities is None:
        raise PageError(404, NOT_SET_UP)
    value = subject.strip()
    if client.settings.console_oidc_user_claim == "email":
        value = value.lower()
    if not value:
        accounts.identities.unlink(target.user_id)
        page.flash(N_("External sign-in unlinked."))
        return redirect("/admin/users", page)
    try:
        accounts.identities.link(client.issuer, value, target.user_id, target.org, admin.user.user_id)
    except IdentityTaken:
        raise PageError(409, N_("This external account is already linked to another user.")) from None
    page.flash(N_("External sign-in linked."))
    return redirect("/admin/users", page)
