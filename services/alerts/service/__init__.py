"""The alerts service's use cases; the routers and the Kafka ingestor call these, never the store."""

from __future__ import annotations

from dataclasses import dataclass

from services.alerts.adapters.live_stream import Broadcaster
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.service.configuration import Configuration
from services.alerts.service.inbox import Inbox
from services.alerts.settings import AlertsSettings


@dataclass
class AlertsService:
    """What the routers need inside one service process (built once by ``main``)."""

    settings: AlertsSettings
    inbox: Inbox
    configuration: Configuration
    live: Broadcaster
    #: the policy file in force (reloaded while running); None only in tests that build the service by hand
    policy: EscalationPolicy | None = None
