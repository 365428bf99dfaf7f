"""Accounts on mongomock with a fake clock: password hashing, TOTP, CSRF, session expiry, lockout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import mongomock
import pyotp
import pytest

from services.console.domain.accounts import (
    Session,
    User,
    after_failure,
    password_problem,
    safe_next,
    session_expired,
)
from services.console.service.accounts import Accounts, hash_password, totp_step, verify_password
from services.console.settings import ConsoleSettings
from services.console.store.accounts import LinkRepository, SessionRepository, UserRepository, token_hash

T0 = datetime(2026, 3, 1, 14, 0, 0, tzinfo=UTC)
PASSWORD = "una frase larga y secreta"


@pytest.fixture
def accounts() -> Accounts:
    db: Any = mongomock.MongoClient(tz_aware=True)["console_unit"]
    settings = ConsoleSettings(
        console_lockout_threshold=3,
        console_lockout_minutes=10,
        console_session_idle_minutes=30,
        console_session_absolute_hours=8,
    )
    a = Accounts(settings, UserRepository(db), SessionRepository(db), LinkRepository(db))
    a.users.ensure_indexes()
    return a


def add_user(
    accounts: Accounts, username: str = "ana", roles: list[str] | None = None, secret: str | None = None
) -> User:
    return accounts.users.create(
        User(
            user_id=f"id-{username}",
            username=username,
            org="org-1",
            roles=roles or ["legal_advocate"],
            password_hash=hash_password(PASSWORD),
            totp_secret=secret,
            totp_enrolled=secret is not None,
        )
    )


def test_passwords_are_argon2id_and_verify() -> None:
    stored = hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD + "x")
    assert not verify_password(None, PASSWORD)
    assert not verify_password("not-a-hash", PASSWORD)


def test_password_rules() -> None:
    assert password_problem("short") == "must be at least 12 characters long"
    assert password_problem(" twelve chars and more") == "must not start or end with spaces"
    assert password_problem(PASSWORD) is None


def test_totp_accepts_the_current_and_adjacent_step_only() -> None:
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    assert totp_step(totp.at(T0), secret, T0) == int(T0.timestamp()) // 30
    assert totp_step(totp.at(T0 - timedelta(seconds=30)), secret, T0) is not None
    assert totp_step(totp.at(T0 - timedelta(seconds=90)), secret, T0) is None
    assert totp_step("12345", secret, T0) is None
    assert totp_step("abcdef", secret, T0) is None


def test_a_totp_code_works_once(accounts: Accounts) -> None:
    secret = pyotp.random_base32()
    user = add_user(accounts, "sup", ["supervisor"], secret)
    code = pyotp.TOTP(secret).at(T0)
    assert accounts.check_totp(user, code, T0) == "ok"
    again = accounts.users.get(user.user_id)
    assert again is not None
    assert accounts.check_totp(again, code, T0) == "bad"  # replayed in the same window


def test_roles_that_see_identity_must_use_a_second_factor(accounts: Accounts) -> None:
    add_user(accounts, "officer", ["intake_officer"])
    add_user(accounts, "advocate", ["legal_advocate"])
    assert accounts.check_password("officer", PASSWORD, T0)[0] == "needs_enrolment"
    assert accounts.check_password("advocate", PASSWORD, T0)[0] == "ok"


def test_enrolment_keeps_the_secret_until_a_code_proves_it(accounts: Accounts) -> None:
    user = add_user(accounts, "officer", ["intake_officer"])
    secret = accounts.start_enrolment(user)
    stored = accounts.users.get(user.user_id)
    assert stored is not None and accounts.start_enrolment(stored) == secret
    assert accounts.finish_enrolment(stored, pyotp.TOTP(secret).at(T0), T0) == "ok"
    assert accounts.users.get(user.user_id).totp_enrolled  # type: ignore[union-attr]
    assert accounts.check_password("officer", PASSWORD, T0)[0] == "needs_totp"


def test_csrf_token_must_match_the_session(accounts: Accounts) -> None:
    _, session = accounts.new_session(T0)
    assert accounts.csrf_ok(session, session.csrf)
    assert not accounts.csrf_ok(session, session.csrf + "x")
    assert not accounts.csrf_ok(session, None)
    assert not accounts.csrf_ok(None, session.csrf)
    _, other = accounts.new_session(T0)
    assert not accounts.csrf_ok(session, other.csrf)


def test_session_expiry_idle_and_absolute() -> None:
    s = Session(sid_hash="h", csrf="c", created_at=T0, last_seen_at=T0)
    idle, absolute = timedelta(minutes=30), timedelta(hours=8)
    assert not session_expired(s, T0 + timedelta(minutes=29), idle, absolute)
    assert session_expired(s, T0 + timedelta(minutes=30), idle, absolute)
    s.last_seen_at = T0 + timedelta(hours=7, minutes=59)
    assert not session_expired(s, T0 + timedelta(hours=7, minutes=59, seconds=30), idle, absolute)
    assert session_expired(s, T0 + timedelta(hours=8), idle, absolute)  # activity never extends past absolute


def test_expired_sessions_are_deleted_on_lookup_and_activity_keeps_one_alive(accounts: Accounts) -> None:
    sid, session = accounts.new_session(T0, stage="full", user_id="id-ana")
    assert accounts.load_session(sid, T0 + timedelta(minutes=20)) is not None
    assert accounts.load_session(sid, T0 + timedelta(minutes=45)) is not None  # idle counted from minute 20
    assert accounts.load_session(sid, T0 + timedelta(minutes=80)) is None
    assert accounts.sessions.get(token_hash(sid)) is None
    assert accounts.load_session("made-up", T0) is None


def test_rotation_gives_a_new_id_and_kills_the_old_one(accounts: Accounts) -> None:
    sid, session = accounts.new_session(T0)
    new_sid, new = accounts.rotate(session, T0, stage="full", user_id="id-ana")
    assert new_sid != sid and new.csrf != session.csrf
    assert accounts.load_session(sid, T0) is None
    assert accounts.load_session(new_sid, T0) is not None


def test_lockout_after_repeated_failures_then_unlock(accounts: Accounts) -> None:
    add_user(accounts)
    assert accounts.check_password("ana", "wrong-1", T0)[0] == "bad"
    assert accounts.check_password("ana", "wrong-2", T0)[0] == "bad"
    assert accounts.check_password("ana", "wrong-3", T0)[0] == "locked"
    # locked: even the right password is refused until the lock ends
    assert accounts.check_password("ana", PASSWORD, T0 + timedelta(minutes=9))[0] == "locked"
    assert accounts.check_password("ana", PASSWORD, T0 + timedelta(minutes=11))[0] == "ok"
    assert accounts.users.get("id-ana").failed_attempts == 0  # type: ignore[union-attr]


def test_after_failure_is_pure() -> None:
    user = User(user_id="u", username="u", org="o", roles=[], failed_attempts=4)
    attempts, until = after_failure(user, T0, 5, timedelta(minutes=15))
    assert attempts == 0 and until == T0 + timedelta(minutes=15)
    user.failed_attempts = 1
    assert after_failure(user, T0, 5, timedelta(minutes=15)) == (2, None)


def test_unknown_and_deactivated_users_get_the_same_answer(accounts: Accounts) -> None:
    add_user(accounts)
    assert accounts.check_password("nobody", PASSWORD, T0) == ("bad", None)
    accounts.deactivate("id-ana")
    assert accounts.check_password("ana", PASSWORD, T0) == ("bad", None)


def test_reset_voids_password_and_sessions_and_the_link_works_once(accounts: Accounts) -> None:
    add_user(accounts)
    sid, _ = accounts.new_session(T0, stage="full", user_id="id-ana")
    token = accounts.reset("id-ana", T0)
    assert accounts.load_session(sid, T0) is None
    assert accounts.check_password("ana", PASSWORD, T0)[0] == "bad"
    assert accounts.links.consume(token, T0) == "id-ana"
    assert accounts.links.consume(token, T0) is None
    accounts.set_password("id-ana", "otra frase larga secreta")
    assert accounts.check_password("ana", "otra frase larga secreta", T0)[0] == "ok"


def test_links_expire(accounts: Accounts) -> None:
    add_user(accounts)
    token = accounts.issue_link("id-ana", "invite", T0)
    assert accounts.links.peek(token, T0 + timedelta(hours=71)) == "id-ana"
    assert accounts.links.peek(token, T0 + timedelta(hours=73)) is None


def test_cookie_is_secure_by_default_in_prod() -> None:
    assert ConsoleSettings(env="dev").cookie_secure is False
    key = "a" * 43 + "="
    assert ConsoleSettings(env="prod", jwt_secret="x" * 40, console_totp_key=key).cookie_secure is True
    assert (
        ConsoleSettings(
            env="prod", jwt_secret="x" * 40, console_totp_key=key, console_cookie_secure=False
        ).cookie_secure
        is False
    )


def test_only_same_site_paths_are_returned_to_after_sign_in() -> None:
    assert safe_next("/alerts/al_1?x=1") == "/alerts/al_1?x=1"
    for bad in (
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "/login",
        "",
        None,
    ):
        assert safe_next(bad) is None


def test_totp_secrets_are_encrypted_at_rest_and_bound_to_the_user(accounts: Accounts) -> None:
    user = add_user(accounts, "officer", ["intake_officer"])
    secret = accounts.start_enrolment(user)
    stored = accounts.users.get(user.user_id).totp_secret  # type: ignore[union-attr]
    assert stored and stored.startswith("v1:") and secret not in stored
    assert accounts.unseal(user.user_id, stored) == secret
    assert accounts.unseal("someone-else", stored) is None  # moved to another user: unusable
    assert accounts.unseal("u", "PLAINTEXTBASE32") == "PLAINTEXTBASE32"  # written before encryption existed


def test_the_dev_totp_key_is_refused_outside_dev() -> None:
    with pytest.raises(ValueError, match="CENTINELA_CONSOLE_TOTP_KEY"):
        ConsoleSettings(env="prod", jwt_secret="x" * 40)
