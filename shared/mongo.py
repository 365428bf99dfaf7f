"""MongoDB connection helper (mongoengine), one database per service."""

from __future__ import annotations

import mongoengine
from pymongo import MongoClient

from shared.settings import CommonSettings


def connect(settings: CommonSettings, alias: str = "default") -> MongoClient:  # type: ignore[type-arg]
    """Connect mongoengine's ``alias`` to the service database and return the client."""
    mongoengine.disconnect(alias=alias)
    client: MongoClient = mongoengine.connect(  # type: ignore[type-arg]
        db=settings.database,
        host=settings.mongo_uri,
        alias=alias,
        tz_aware=True,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        uuidRepresentation="standard",
    )
    return client


def ping(client: MongoClient) -> bool:  # type: ignore[type-arg]
    try:
        client.admin.command("ping")
        return True
    except Exception:
        return False
