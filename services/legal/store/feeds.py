"""Secret iCalendar feed URLs, one per user, stored as a hash: a copy of the database reveals no URL."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from mongoengine import DateTimeField, Document, ListField, StringField
from pymongo.collection import Collection


class CalendarFeed(Document):
    meta = {
        "collection": "legal_calendar_feeds",
        "strict": False,
        "auto_create_index": False,
        "indexes": [{"fields": ["sub"], "unique": True}],
    }

    secret_hash = StringField(primary_key=True)
    sub = StringField(required=True)
    org = StringField()
    roles = ListField(StringField())
    created_at = DateTimeField(required=True)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class FeedRepository:
    def __init__(self) -> None:
        self.feeds: Collection[Any] = CalendarFeed._get_collection()

    def ensure_indexes(self) -> None:
        CalendarFeed.ensure_indexes()

    def rotate(self, sub: str, org: str | None, roles: list[str]) -> tuple[str, datetime]:
        """A new secret for ``sub``; the old one (if any) stops working at once."""
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        self.feeds.delete_many({"sub": sub})
        self.feeds.insert_one(
            {"_id": secret_hash(secret), "sub": sub, "org": org, "roles": sorted(roles), "created_at": now}
        )
        return secret, now

    def revoke(self, sub: str) -> bool:
        return self.feeds.delete_many({"sub": sub}).deleted_count > 0

    def owner(self, secret: str) -> dict[str, Any] | None:
        return self.feeds.find_one({"_id": secret_hash(secret)})
