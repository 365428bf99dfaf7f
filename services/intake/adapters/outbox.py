"""The relay that publishes the case documents' outbox entries on ``case-events``.

Intake has no Kafka consumer: every fact leaves through the outbox written with the change.
"""

from __future__ import annotations

from pymongo import MongoClient
from pymongo.collection import Collection

from services.intake.settings import IntakeSettings
from shared.outbox import OutboxPublisher


def case_events_relay(
    settings: IntakeSettings,
    client: MongoClient,
    cases: Collection,
) -> OutboxPublisher:
    """One relay per service publishes at a time (a lease in ``outbox_leases``)."""
    return OutboxPublisher(settings, [cases], client[settings.database]["outbox_leases"])
