"""Wiring only: the ``alerts`` topic's :class:`shared.consumer.PartitionedConsumer` with the ingest
use case (``service.ingest.AlertIngestor``) as decoder and handler, tuned by the
``CENTINELA_ALERTS_CONSUMER_*`` settings.

What one poll brought, every partition together, is stored as one batch (a few database round
trips for up to 500 alerts, one commit), falling back to partition by partition and then record by
record, which tells poison (``alerts.dlq`` with the reason) from trouble (retried, holding back only
its partition), when anything in the batch fails. A partition failing for
``CENTINELA_ALERTS_CONSUMER_STUCK_AFTER_SECONDS`` makes ``/readyz`` answer 503 naming the partition
and the exception type.
"""

from __future__ import annotations

from services.alerts.service.ingest import AlertIngestor
from services.alerts.settings import AlertsSettings
from shared.consumer import PartitionedConsumer
from shared.events import Event
from shared.topics import ALERTS


def alerts_consumer(settings: AlertsSettings, ingestor: AlertIngestor) -> PartitionedConsumer[Event]:
    return PartitionedConsumer(
        settings,
        ALERTS,
        settings.alerts_consumer_group,
        ingestor.decode,
        ingestor.handle,
        handle_many=ingestor.handle_many,
        batch_per_poll=True,
        max_poll_records=500,
        on_dead_letter=ingestor.dead_lettered,
        max_attempts=settings.alerts_consumer_max_attempts,
        retry_window=settings.alerts_consumer_retry_window_seconds,
        stuck_after=settings.alerts_consumer_stuck_after_seconds,
        lag_interval=settings.alerts_consumer_lag_interval_seconds,
    )
