"""Sign-in, sessions, CSRF, second factor, invitations: the console's account service.

Passwords: Argon2id (argon2-cffi's defaults, RFC 9106 low-memory profile), rehashed on sign-in
when the parameters change. Second factor: TOTP (RFC 6238, 30 s, 6 digits, one step of drift),
each time step usable once. Sessions: random 256-bit ids in an HttpOnly SameSite=Lax cookie, kept
server-side (hashed) with idle and absolute expiry; the id changes at every privilege change
(password accepted, second factor accepted) so a planted id is worthless.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.console.domain import accounts as domain
from services.console.domain.accounts import Session, User
from services.console.settings import ConsoleSettings
from services.console.store.accounts import (
    ExternalIdentityRepository,
    LinkRepository,
    SessionRepository,
    UserRepository,
    token_hash,
)

_hasher = PasswordHasher()  # argon2id
# verified against when the username is unknown, so both paths cost the same time
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step(code: str, secret: str, now: datetime) -> int | None:
    """The time step a code belongs to (now, one before or one after), or None if it is wrong."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    for drift in (0, -1, 1):
        at = now + timedelta(seconds=30 * drift)
        if hmac.compare_digest(totp.at(at), code):
            return int(at.timestamp()) // 30
    return None


def totp_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="centinela")


SignInResult = Literal["ok", "needs_totp", "needs_enrolment", "bad", "locked"]


@dataclass
class Accounts:
    settings: ConsoleSettings
    users: UserRepository
    sessions: SessionRepository
    links: LinkRepository
    identities: ExternalIdentityRepository | None = None

    # --- TOTP secrets at rest: AES-256-GCM, the user id as associated data (a secret moved to another
    # user fails); values without the prefix are read as plain text (written before encryption existed)
    def seal(self, user_id: str, secret: str) -> str:
        nonce = os.urandom(12)
        ct = AESGCM(self._key()).encrypt(nonce, secret.encode(), user_id.encode())
        return "v1:" + base64.b64encode(nonce + ct).decode()

    def unseal(self, user_id: str, stored: str | None) -> str | None:
        if not stored:
            return None
        if not stored.startswith("v1:"):
            return stored
        raw = base64.b64decode(stored[3:])
        try:
            return AESGCM(self._key()).decrypt(raw[:12], raw[12:], user_id.encode()).decode()
        except InvalidTag:
            return None

    def _key(self) -> bytes:
        key = base64.b64decode(self.settings.console_totp_key.get_secret_value())
        if len(key) != 32:
            raise ValueError("CENTINELA_CONSOLE_TOTP_KEY must be the base64 of 32 bytes")
        return key

    # --- sessions ----------------------------------------------------------------------------------
    @property
    def idle(self) -> timedelta:
        return timedelta(minutes=self.settings.console_session_idle_minutes)

    @property
    def absolute(self) -> timedelta:
        return timedelta(hours=self.settings.console_session_absolute_hours)

    def new_session(
        self, now: datetime, *, stage: domain.Stage = "anon", user_id: str | None = None, language: str | None = None
    ) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        session = Session(
            sid_hash=token_hash(sid),
            csrf=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            stage=stage,
            user_id=user_id,
            language=language,
        )
        self.sessions.insert(session, self._expires(session, now))
        return sid, session

    def _expires(self, session: Session, now: datetime) -> datetime:
        return min(now + self.idle, session.created_at + self.absolute)

    def load_session(self, sid: str | None, now: datetime) -> Session | None:
        """The live session of this cookie value (idle time refreshed), or None; expired ones are deleted."""
        if not sid or len(sid) > 200:
            return None
        session = self.sessions.get(token_hash(sid))
        if session is None:
            return None
        if domain.session_expired(session, now, self.idle, self.absolute):
            self.sessions.delete(session.sid_hash)
            return None
        # write at most once a minute: a page with htmx fragments must not cost one write each
        if now - session.last_seen_at >= timedelta(seconds=60):
            self.sessions.touch(session.sid_hash, now, self._expires(session, now))
            session.last_seen_at = now
        return session

    def rotate(self, old: Session, now: datetime, *, stage: domain.Stage, user_id: str | None) -> tuple[str, Session]:
        """A new session id for a privilege change; the old id stops working at once."""
        self.sessions.delete(old.sid_hash)
        sid, session = self.new_session(now, stage=stage, user_id=user_id, language=old.language)
        if old.next_url and stage != "full":
            self.sessions.set(session.sid_hash, next_url=old.next_url)
            session.next_url = old.next_url
        return sid, session

    def end(self, session: Session) -> None:
        self.sessions.delete(session.sid_hash)

    @staticmethod
    def csrf_ok(session: Session | None, token: str | None) -> bool:
        return bool(session and token and hmac.compare_digest(session.csrf.encode(), token.encode()))

    # --- sign-in -----------------------------------------------------------------------------------
    def check_password(self, username: str, password: str, now: datetime) -> tuple[SignInResult, User | None]:
        user = self.users.by_username(username)
        if user is None or not user.active:
            verify_password(None, password)  # same cost as a real check: no user enumeration by timing
            return "bad", None
        if domain.is_locked(user, now):
            return "locked", None
        if not verify_password(user.password_hash, password):
            return self._failure(user, now), None
        if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
            self.users.update(user.user_id, password_hash=hash_password(password))
        if user.needs_totp:
            return ("needs_totp" if user.totp_enrolled else "needs_enrolment"), user
        self.users.record_failure(user.user_id, 0, None)
        return "ok", user

    def _failure(self, user: User, now: datetime) -> SignInResult:
        """Count a wrong password or code; the threshold-th locks the account for a while."""
        attempts, locked_until = domain.after_failure(
            user, now, self.settings.console_lockout_threshold, timedelta(minutes=self.settings.console_lockout_minutes)
        )
        self.users.record_failure(user.user_id, attempts, locked_until)
        return "locked" if locked_until and locked_until > now else "bad"

    def check_totp(self, user: User, code: str, now: datetime) -> SignInResult:
        if domain.is_locked(user, now):
            return "locked"
        secret = self.unseal(user.user_id, user.totp_secret)
        step = totp_step(code, secret, now) if secret else None
        if step is None or not self.users.claim_totp_step(user.user_id, step):
            return self._failure(user, now)
        self.users.record_failure(user.user_id, 0, None)
        return "ok"

    def start_enrolment(self, user: User) -> str:
        """The secret shown while a user enrols (kept until a first code proves the app has it)."""
        current = self.unseal(user.user_id, user.totp_secret)
        if current:
            return current
        secret = new_totp_secret()
        self.users.update(user.user_id, totp_secret=self.seal(user.user_id, secret))
        return secret

    def finish_enrolment(self, user: User, code: str, now: datetime) -> SignInResult:
        result = self.check_totp(user, code, now)
        if result == "ok":
            self.users.update(user.user_id, totp_enrolled=True)
        return result

    # --- administration ----------------------------------------------------------------------------
    def issue_link(self, user_id: str, purpose: str, now: datetime) -> str:
        token = secrets.token_urlsafe(32)
        self.links.create(token, user_id, purpose, now + timedelta(hours=self.settings.console_invite_hours))
        return token

    def set_password(self, user_id: str, password: str) -> None:
        self.users.update(user_id, password_hash=hash_password(password), failed_attempts=0, locked_until=None)
        self.sessions.delete_for_user(user_id)

    def reset(self, user_id: str, now: datetime) -> str:
        """Admin reset: the old password and every session stop working; the user sets a new one by link."""
        self.users.update(user_id, password_hash=None, failed_attempts=0, locked_until=None)
        self.sessions.delete_for_user(user_id)
        return self.issue_link(user_id, "reset", now)

    def deactivate(self, user_id: str) -> None:
        self.users.update(user_id, active=False)
        self.sessions.delete_for_user(user_id)


def utcnow() -> datetime:
    return datetime.now(UTC)
