"""Organisation administration: invite users, change roles, deactivate, reset passwords.

An admin only ever sees and changes users of their own organisation: another organisation's
user answers 404, like a user that does not exist.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.console.domain.accounts import CONSOLE_ROLES, LANGUAGES, USER_ID, USERNAME, User
from services.console.service.accounts import utcnow
from services.console.store.accounts import UsernameTaken
from services.console.web import labels
from services.console.web.core import Csrf, Page, PageError, redirect, roles

router = APIRouter(prefix="/admin")
Admin = Annotated[Page, Depends(roles("admin"))]


def _target(page: Page, user_id: str) -> User:
    """The user an admin acts on: only the admin's own organisation's (anyone else's answers 404)."""
    admin = _require_admin(page)
    user = page.console.accounts.users.get(user_id[:64])
    if user is None or user.org != admin.org:
        raise PageError(404, "This user does not exist in your organisation.")
    return user


def _link(page: Page, token: str) -> str:
    return f"{page.console.settings.console_public_url.rstrip('/')}/set-password/{token}"


def _list(page: Page, status: int = 200, **extra: object) -> Response:
    assert page.user is not None
    users = page.console.accounts.users.in_org(page.user.org)
    oidc, identities = page.console.oidc, page.console.accounts.identities
    external = identities.subjects_in_org(oidc.issuer, page.user.org) if oidc.enabled and identities else None
    return page.render(
        "admin_users.html",
        status=status,
        users=users,
        labels=labels,
        roles=CONSOLE_ROLES,
        external=external,
        form=extra.pop("form", {}),
        form_errors=extra.pop("form_errors", {}),
        **extra,
    )


@router.get("/users")
def users(page: Admin) -> Response:
    return _list(page)


def _require_admin(page: Page) -> User:
    if page.user is None or not page.user.has("admin"):
        raise PageError(403, "Your role does not give access to this page.")
    return page.user


@router.post("/users")
async def invite(request: Request, page: Csrf) -> Response:
    admin = _require_admin(page)
    form = await request.form()
    username = str(form.get("username") or "").strip().lower()
    display_name = str(form.get("display_name") or "").strip()[:100]
    user_id = str(form.get("user_id") or "").strip()
    language = str(form.get("language") or "es")
    chosen = [str(r) for r in form.getlist("roles") if r in CONSOLE_ROLES]
    errors: dict[str, str] = {}
    if not USERNAME.match(username):
        errors["username"] = "3 to 64 lower-case letters, digits, dots, dashes or underscores."
    if user_id and not USER_ID.match(user_id):
        errors["user_id"] = "Use only letters, digits and . _ : - (at most 64)."
    if not chosen:
        errors["roles"] = "Choose at least one role."
    if language not in LANGUAGES:
        errors["language"] = "Choose one of the options."
    if not errors:
        user = User(
            user_id=user_id or f"u-{secrets.token_hex(6)}",
            username=username,
            org=admin.org,
            roles=chosen,
            language=language,
            display_name=display_name,
        )
        try:
            page.console.accounts.users.create(user)
        except UsernameTaken:
            errors["username"] = "This user name is taken."
        else:
            token = page.console.accounts.issue_link(user.user_id, "invite", utcnow())
            return _list(page, invited=user, link=_link(page, token))
    safe = {"username": username, "display_name": display_name, "user_id": user_id, "language": language}
    return _list(page, status=422, form=safe, form_errors=errors, chosen=chosen)


@router.post("/users/{user_id}/roles")
async def change_roles(user_id: str, request: Request, page: Csrf) -> Response:
    target = _target(page, user_id)
    admin = _require_admin(page)
    chosen = [str(r) for r in (await request.form()).getlist("roles") if r in CONSOLE_ROLES]
    if not chosen:
        raise PageError(422, "Choose at least one role.")
    if target.user_id == admin.user_id and "admin" not in chosen:
        raise PageError(422, "You cannot remove your own administrator role.")
    page.console.accounts.users.update(target.user_id, roles=chosen)
    # a role change takes effect now: the user signs in again under the new roles
    page.console.accounts.sessions.delete_for_user(target.user_id)
    page.flash("Roles changed.")
    return redirect("/admin/users", page)


@router.post("/users/{user_id}/deactivate")
def deactivate(user_id: str, page: Csrf) -> Response:
    target = _target(page, user_id)
    if target.user_id == _require_admin(page).user_id:
        raise PageError(422, "You cannot deactivate yourself.")
    page.console.accounts.deactivate(target.user_id)
    page.flash("User deactivated.")
    return redirect("/admin/users", page)


@router.post("/users/{user_id}/activate")
def activate(user_id: str, page: Csrf) -> Response:
    target = _target(page, user_id)
    page.console.accounts.users.update(target.user_id, active=True, failed_attempts=0, locked_until=None)
    page.flash("User activated.")
    return redirect("/admin/users", page)


@router.post("/users/{user_id}/reset")
def reset(user_id: str, page: Csrf) -> Response:
    target = _target(page, user_id)
    token = page.console.accounts.reset(target.user_id, utcnow())
    return _list(page, reset_user=target, link=_link(page, token))


@router.post("/users/{user_id}/reset-totp")
def reset_totp(user_id: str, page: Csrf) -> Response:
    target = _target(page, user_id)
    page.console.accounts.users.update(target.user_id, totp_secret=None, totp_enrolled=False, totp_last_step=0)
    page.console.accounts.sessions.delete_for_user(target.user_id)
    page.flash("Second factor reset: the user enrols again at the next sign-in.")
    return redirect("/admin/users", page)
