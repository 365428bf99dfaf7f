"""Accounts and sessions as pure decisions: who must use a second factor, when a session or an
account lock ends. No I/O here, so the rules are unit-tested with a fake clock."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from shared.auth import ROLES

# court_integrator is a system, not a person: it never signs in to the console.
CONSOLE_ROLES: tuple[str, ...] = tuple(r for r in ROLES if r != "court_integrator")
# Roles that can see a child's identity (DESIGN.md need-to-know) must prove a second factor.
TOTP_REQUIRED_ROLES = frozenset({"supervisor", "admin", "intake_officer"})
# Roles that may ask intake to decrypt identity (with a stated reason).
IDENTITY_ROLES = frozenset({"supervisor", "intake_officer", "admin"})
LANGUAGES = ("es", "en")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$")
MIN_PASSWORD = 12
MAX_PASSWORD = 256

Stage = Literal["anon", "password_ok", "full"]


@dataclass
class User:
    user_id: str  # the pseudonymous id the APIs know (token sub, advocate_id)
    username: str
    org: str
    roles: list[str]
    language: str = "es"
    display_name: str = ""
    active: bool = True
    password_hash: str | None = None
    totp_secret: str | None = None
    totp_enrolled: bool = False
    totp_last_step: int = 0
    failed_attempts: int = 0
    locked_until: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def has(self, *roles: str) -> bool:
        return bool(set(self.roles).intersection(roles))

    @property
    def needs_totp(self) -> bool:
        return totp_required(self.roles) or self.totp_enrolled

    @property
    def may_see_identity(self) -> bool:
        return self.has(*IDENTITY_ROLES)


@dataclass
class Session:
    sid_hash: str
    csrf: str
    created_at: datetime
    last_seen_at: datetime
    stage: Stage = "anon"
    user_id: str | None = None
    language: str | None = None
    flash: list[str] = field(default_factory=list)
    next_url: str | None = None  # where to go after signing in (a link from an alert e-mail)
    oidc: dict[str, Any] | None = None  # a sign-in through the OpenID Connect provider under way


def safe_next(url: str | None) -> str | None:
    """A same-site path to return to after sign-in; anything else (another host, //, \\) is dropped."""
    if not url or len(url) > 300 or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if url.startswith(("/login", "/logout", "/set-password")):
        return None
    return url


def totp_required(roles: list[str]) -> bool:
    return bool(TOTP_REQUIRED_ROLES.intersection(roles))


def session_expired(session: Session, now: datetime, idle: timedelta, absolute: timedelta) -> bool:
    """Idle expiry resets with each request; absolute expiry never does (a stolen cookie dies anyway)."""
    return now - session.last_seen_at >= idle or now - session.created_at >= absolute


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def after_failure(user: User, now: datetime, threshold: int, lock_for: timedelta) -> tuple[int, datetime | None]:
    """Failed attempts and lock after one more failure: the threshold-th failure locks, and resets the count."""
    attempts = user.failed_attempts + 1
    if attempts >= threshold:
        return 0, now + lock_for
    return attempts, user.locked_until


def password_problem(password: str) -> str | None:
    """The reason a new password is refused (a msgid, translated by the caller), or None."""
    if len(password) < MIN_PASSWORD:
        return "must be at least 12 characters long"
    if len(password) > MAX_PASSWORD:
        return "must be at most 256 characters long"
    if password.strip() != password or not password.strip():
        return "must not start or end with spaces"
    return None
