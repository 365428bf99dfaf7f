"""Kafka adapters: court updates published by integrators, and case access from intake's case-events.

Both run as :class:`shared.kafka.ConsumerLoop` threads: an offset is committed only after the
handler returned, i.e. after the single atomic insert that stores the update together with its
outgoing events (the outbox), so neither a crash nor a broker outage loses an update.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from services.legal import metrics as m
from services.legal.domain.updates import CourtUpdate, InvalidUpdate, parse_update
from services.legal.pipeline import LegalPipeline
from services.legal.settings import LegalSettings
from services.legal.store.timelines import TimelineRepository
from shared.events import DecodeError, decode
from shared.events.case import AdvocateAssigned, CaseRegistered
from shared.kafka import ConsumerLoop, InvalidMessage
from shared.topics import CASE_EVENTS, COURT_UPDATES

log = logging.getLogger(__name__)

ACCESS_TYPES = frozenset({CaseRegistered.TYPE, AdvocateAssigned.TYPE})


def _json_value(record: ConsumerRecord) -> Any:
    """The record's value parsed as JSON, or InvalidMessage with the reason (for the DLQ)."""
    if record.value is None:
        raise InvalidMessage("value: empty message")
    try:
        return json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidMessage(f"value: not JSON ({type(exc).__name__})") from None


def decode_court_update(record: ConsumerRecord) -> CourtUpdate:
    raw = _json_value(record)
    try:
        return parse_update(raw)
    except InvalidUpdate as exc:
        raise InvalidMessage(exc.reason) from None


def court_updates_consumer(settings: LegalSettings, pipeline: LegalPipeline) -> ConsumerLoop[Any]:
    def handle(record: ConsumerRecord, update: CourtUpdate) -> None:
        outcome = pipeline.submit(update, "kafka")
        if outcome.status == "rejected":
            # Counted as received/rejected by the pipeline already; the DLQ callback must not count it twice.
            raise _Rejected(outcome.reason or "rejected")

    def dead_lettered(record: ConsumerRecord, reason: str) -> None:
        m.DLQ.inc()
        if not reason.startswith(_Rejected.MARK):
            m.UPDATES.labels("kafka", "rejected").inc()

    return ConsumerLoop(
        settings,
        [COURT_UPDATES],
        settings.legal_court_updates_group,
        decode_court_update,
        handle,
        on_dead_letter=dead_lettered,
    )


class _Rejected(InvalidMessage):
    """A well-formed update the timeline refused (illegal transition...): DLQ with the reason."""

    MARK = "rejected: "

    def __init__(self, reason: str) -> None:
        super().__init__(self.MARK + reason)


def decode_case_event(record: ConsumerRecord) -> Any:
    """Only the two facts that say who may read a case; every other type is skipped without decoding."""
    doc = _json_value(record)
    if not isinstance(doc, dict) or doc.get("type") not in ACCESS_TYPES:
        return None
    try:
        return decode(doc)
    except DecodeError as exc:
        raise InvalidMessage(exc.reason) from None


def case_access_consumer(settings: LegalSettings, repo: TimelineRepository) -> ConsumerLoop[Any]:
    def handle(record: ConsumerRecord, event: Any) -> None:
        if event is None:
            return
        payload = event.payload
        if isinstance(payload, CaseRegistered):
            repo.set_access(payload.case_id, payload.org_id, payload.advocate_id, payload.registered_at)
        elif isinstance(payload, AdvocateAssigned):
            repo.set_access(payload.case_id, payload.org_id, payload.advocate_id, payload.assigned_at)

    return ConsumerLoop(
        settings,
        [CASE_EVENTS],
        settings.legal_case_events_group,
        decode_case_event,
        handle,
    )
