"""Use cases of the admin: webhook subscriptions (and their delivery log) and the staff directory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.alerts.domain.page_cursor import CursorCodec, query_digest
from services.alerts.domain.webhook_targets import AllowList, Resolver, target_problem
from services.alerts.service.paging import decode_after, next_cursor
from services.alerts.service.refusals import InvalidField, NotFound
from services.alerts.store.contacts import DeliveryRepository, DirectoryRepository, SubscriptionRepository
from shared.auth import Principal


class Configuration:
    def __init__(
        self,
        subscriptions: SubscriptionRepository,
        directory: DirectoryRepository,
        deliveries: DeliveryRepository,
        cursors: CursorCodec,
        *,
        allow: AllowList | None = None,
        resolve: Resolver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        #: webhook targets: internal addresses refused unless allowed (names resolved with ``resolve``)
        self.allow = allow or AllowList()
        self.resolve = resolve
        self.subscriptions = subscriptions
        self.directory = directory
        self.deliveries = deliveries
        self.cursors = cursors
        self.clock = clock

    # -- webhook subscriptions
    def create_subscription(self, principal: Principal, fields: dict[str, Any]) -> dict[str, Any]:
        problem = target_problem(fields["url"], self.allow, self.resolve)
        if problem is not None:
            raise InvalidField("body.url", problem)
        return self.subscriptions.create({**fields, "created_at": self.clock(), "created_by": principal.sub})

    def list_subscriptions(self) -> list[dict[str, Any]]:
        return self.subscriptions.all()

    def subscription(self, sub_id: str) -> dict[str, Any]:
        doc = self.subscriptions.get(sub_id)
        if doc is None:
            raise NotFound("subscription not found")
        return doc

    def delete_subscription(self, sub_id: str) -> None:
        if not self.subscriptions.delete(sub_id):
            raise NotFound("subscription not found")

    def deliveries_page(self, sub_id: str, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a webhook's delivery attempts, newest first, and the cursor of the next page."""
        self.subscription(sub_id)
        query = query_digest("deliveries", sub_id)
        docs, more = self.deliveries.page(sub_id, limit, decode_after(self.cursors, cursor, query))
        return docs, next_cursor(self.cursors, docs, more, "at", query)

    # -- staff directory
    def put_directory(
        self, principal: Principal, user_id: str, email: str, org_id: str, role: str, *, language: str | None = None
    ) -> dict[str, Any]:
        return self.directory.put(user_id, email, org_id, role, principal.sub, self.clock(), language=language)

    def directory_entry(self, user_id: str) -> dict[str, Any]:
        doc = self.directory.get(user_id)
        if doc is None:
            raise NotFound("directory entry not found")
        return doc

    def delete_directory(self, user_id: str) -> None:
        if not self.directory.delete(user_id):
            raise NotFound("directory entry not found")
