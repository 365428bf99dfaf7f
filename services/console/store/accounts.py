"""Users, sessions and one-time links in MongoDB (database ``centinela_console``).

Session and link tokens are stored as SHA-256 hashes: a copy of the database does not let anyone
sign in. Repositories take a pymongo ``Database`` so unit tests can hand them mongomock.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, fields
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError, PyMongoError

from services.console.domain.accounts import Session, User

log = logging.getLogger(__name__)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


class UsernameTaken(Exception):
    pass


_USER_FIELDS = {f.name for f in fields(User)}


def _user(doc: dict[str, Any]) -> User:
    data = {k: _aware(v) for k, v in doc.items() if k in _USER_FIELDS}
    data["user_id"] = doc["_id"]
    return User(**data)


class UserRepository:
    def __init__(self, db: Database) -> None:
        self.col = db["users"]

    def ensure_indexes(self) -> None:
        self.col.create_index([("username", ASCENDING)], unique=True, name="username_unique")
        self.col.create_index([("org", ASCENDING), ("username", ASCENDING)], name="org_username")

    def create(self, user: User) -> User:
        now = datetime.now(UTC)
        user.created_at = user.updated_at = now
        doc = asdict(user)
        doc["_id"] = doc.pop("user_id")
        try:
            self.col.insert_one(doc)
        except DuplicateKeyError:
            raise UsernameTaken(user.username) from None
        return user

    def get(self, user_id: str) -> User | None:
        doc = self.col.find_one({"_id": user_id})
        return _user(doc) if doc else None

    def by_username(self, username: str) -> User | None:
        doc = self.col.find_one({"username": username.strip().lower()})
        return _user(doc) if doc else None

    def in_org(self, org: str) -> list[User]:
        return [_user(d) for d in self.col.find({"org": org}).sort("username", ASCENDING)]

    def update(self, user_id: str, **changes: Any) -> User | None:
        changes["updated_at"] = datetime.now(UTC)
        doc = self.col.find_one_and_update({"_id": user_id}, {"$set": changes}, return_document=ReturnDocument.AFTER)
        return _user(doc) if doc else None

    def record_failure(self, user_id: str, attempts: int, locked_until: datetime | None) -> None:
        self.col.update_one({"_id": user_id}, {"$set": {"failed_attempts": attempts, "locked_until": locked_until}})

    def claim_totp_step(self, user_id: str, step: int) -> bool:
        """Use a TOTP time step once: a code seen on the wire cannot be replayed in its window."""
        result = self.col.update_one(
            {"_id": user_id, "totp_last_step": {"$lt": step}}, {"$set": {"totp_last_step": step}}
        )
        return result.modified_count == 1


class SessionRepository:
    def __init__(self, db: Database) -> None:
        self.col = db["sessions"]

    def ensure_indexes(self) -> None:
        self.col.create_index([("user_id", ASCENDING)], name="user")
        try:  # a TTL index drops abandoned sessions; servers without TTL support still work (lookup checks expiry)
            self.col.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0, name="expiry_ttl")
        except PyMongoError:
            log.warning("sessions: TTL index not available; expired sessions are removed when looked up")

    def insert(self, session: Session, expires_at: datetime) -> None:
        doc = asdict(session)
        doc["_id"] = doc.pop("sid_hash")
        doc["expires_at"] = expires_at
        self.col.insert_one(doc)

    def get(self, sid_hash: str) -> Session | None:
        doc = self.col.find_one({"_id": sid_hash})
        if not doc:
            return None
        return Session(
            sid_hash=doc["_id"],
            csrf=doc["csrf"],
            created_at=_aware(doc["created_at"]),
            last_seen_at=_aware(doc["last_seen_at"]),
            stage=doc.get("stage", "anon"),
            user_id=doc.get("user_id"),
            language=doc.get("language"),
            flash=list(doc.get("flash") or []),
            next_url=doc.get("next_url"),
            oidc=doc.get("oidc"),
        )

    def touch(self, sid_hash: str, now: datetime, expires_at: datetime) -> None:
        self.col.update_one({"_id": sid_hash}, {"$set": {"last_seen_at": now, "expires_at": expires_at}})

    def set(self, sid_hash: str, **changes: Any) -> None:
        self.col.update_one({"_id": sid_hash}, {"$set": changes})

    def push_flash(self, sid_hash: str, message: str) -> None:
        self.col.update_one({"_id": sid_hash}, {"$push": {"flash": message}})

    def pop_flash(self, sid_hash: str) -> list[str]:
        doc = self.col.find_one_and_update({"_id": sid_hash}, {"$set": {"flash": []}})
        return list((doc or {}).get("flash") or [])

    def delete(self, sid_hash: str) -> None:
        self.col.delete_one({"_id": sid_hash})

    def delete_for_user(self, user_id: str) -> int:
        return self.col.delete_many({"user_id": user_id}).deleted_count


class LinkRepository:
    """One-time links to set a password: invitations and admin resets."""

    def __init__(self, db: Database) -> None:
        self.col = db["links"]

    def ensure_indexes(self) -> None:
        self.col.create_index([("user_id", ASCENDING)], name="user")

    def create(self, token: str, user_id: str, purpose: str, expires_at: datetime) -> None:
        self.col.delete_many({"user_id": user_id})  # a new link voids older ones
        self.col.insert_one(
            {"_id": token_hash(token), "user_id": user_id, "purpose": purpose, "expires_at": expires_at}
        )

    def peek(self, token: str, now: datetime) -> str | None:
        doc = self.col.find_one({"_id": token_hash(token)})
        if not doc or _aware(doc["expires_at"]) <= now:
            return None
        return str(doc["user_id"])

    def consume(self, token: str, now: datetime) -> str | None:
        doc = self.col.find_one_and_delete({"_id": token_hash(token)})
        if not doc or _aware(doc["expires_at"]) <= now:
            return None
        return str(doc["user_id"])


class IdentityTaken(Exception):
    pass


class ExternalIdentityRepository:
    """Links from an OpenID Connect identity (issuer + the configured claim's value) to a console user.

    The value is the document id, so one identity can never sign in as two users; a user has at most
    one link (a new one replaces it)."""

    def __init__(self, db: Database) -> None:
        self.col = db["external_identities"]

    def ensure_indexes(self) -> None:
        self.col.create_index([("user_id", ASCENDING)], name="user")

    @staticmethod
    def _id(issuer: str, subject: str) -> str:
        return f"{issuer.rstrip('/')}|{subject}"

    def link(self, issuer: str, subject: str, user_id: str, org: str, by: str) -> None:
        key = self._id(issuer, subject)
        held = self.col.find_one({"_id": key})
        if held and held["user_id"] != user_id:
            raise IdentityTaken()
        self.col.delete_many({"user_id": user_id, "_id": {"$ne": key}})
        try:  # held by someone else since the check: the upsert collides on _id
            self.col.update_one(
                {"_id": key, "user_id": user_id},
                {"$set": {"user_id": user_id, "org": org, "subject": subject, "by": by, "at": datetime.now(UTC)}},
                upsert=True,
            )
        except DuplicateKeyError:
            raise IdentityTaken() from None

    def unlink(self, user_id: str) -> None:
        self.col.delete_many({"user_id": user_id})

    def user_of(self, issuer: str, subject: str) -> str | None:
        doc = self.col.find_one({"_id": self._id(issuer, subject)})
        return str(doc["user_id"]) if doc else None

    def subjects_in_org(self, issuer: str, org: str) -> dict[str, str]:
        """user_id -> linked value, for the admin page."""
        prefix = issuer.rstrip("/") + "|"
        return {
            str(d["user_id"]): str(d["subject"])
            for d in self.col.find({"org": org})
            if str(d["_id"]).startswith(prefix)
        }
