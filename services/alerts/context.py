"""What the routers, the consumer and the loops share inside one service process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.alerts.escalation import EscalationPolicy
from services.alerts.live import Broadcaster
from services.alerts.settings import AlertsSettings
from services.alerts.store.alerts import AlertRepository
from services.alerts.store.contacts import (
    DeliveryRepository,
    DirectoryRepository,
    JobRepository,
    SubscriptionRepository,
)


@dataclass
class AlertsContext:
    settings: AlertsSettings
    alerts: AlertRepository
    directory: DirectoryRepository
    subscriptions: SubscriptionRepository
    jobs: JobRepository
    deliveries: DeliveryRepository
    #: escalation times of the shared policy file (the processor's loader), reloaded on change
    policy: EscalationPolicy
    broadcaster: Broadcaster
    #: wakes the outbox relay after a write (OutboxPublisher.notify); absent in unit tests
    notify_outbox: Callable[[], None] | None = None

    def outbox_written(self) -> None:
        if self.notify_outbox is not None:
            self.notify_outbox()
