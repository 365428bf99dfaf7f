"""What the console's integration and browser tests share: users written straight into the
console's database, the CSRF token of a page, and the APIs over one transport."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import httpx
import pyotp

from services.console.adapters.apis import ApiClient, Apis
from services.console.domain.accounts import User
from services.console.service.accounts import hash_password
from services.console.settings import ConsoleSettings

PASSWORD = "contraseña de prueba larga"


@cache
def password_hash(password: str = PASSWORD) -> str:
    return hash_password(password)  # Argon2id takes a while: once per password for a whole run


def insert_user(
    db: Any, username: str, user_id: str, org: str, roles: list[str], *, totp: bool, password: str = PASSWORD
) -> str | None:
    """A signed-up user (display name = user name); the TOTP secret when ``totp``."""
    secret = pyotp.random_base32() if totp else None
    user = User(user_id, username, org, roles, display_name=username, password_hash=password_hash(password))
    user.totp_secret, user.totp_enrolled = secret, totp
    db["users"].insert_one({**{k: v for k, v in user.__dict__.items() if k != "user_id"}, "_id": user_id})
    return secret


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def apis_over(settings: ConsoleSettings, transport: httpx.BaseTransport) -> Apis:
    """The four APIs as http://intake, http://legal, ... over one (fake) transport."""

    def client(name: str) -> ApiClient:
        return ApiClient(name, f"http://{name}", settings, transport=transport)

    return Apis(
        intake=client("intake"),
        legal=client("legal"),
        alerts=client("alerts"),
        settings=settings,
        reports=client("reports"),
    )
