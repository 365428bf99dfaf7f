"""Kafka adapters: court updates published by integrators, and case access from intake's case-events.

Both run as :class:`shared.kafka.ConsumerLoop` threads: an offset is committed only after the
handler returned, i.e. after the single atomic insert that stores the update together with its
outgoing events (the outbox), so neither a crash nor a broker outage loses an update. Both call
the service layer, never the store.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from services.legal import metrics as m
from services.legal.domain.updates import CourtUpdate, InvalidUpdate, parse_update
from services.legal.service import LegalService, Outcome
from services.legal.settings import LegalSettings
from shared.events import DecodeError, decode
from shared.events.case import AdvocateAssigned, CaseRegistered
from shared.kafka import ConsumerLoop, InvalidMessage
from shared.topics import CASE_EVENTS, COURT_UPDATES

log = logging.getLogger(__name__)

ACCESS_TYPES = frozenset({CaseRegistered.TYPE, AdvocateAssigned.TYPE})


class RejectedUpdate(InvalidMessage):
    """A message the legal service refused for good: dead-lettered with the reason and its code.

    ``counted`` says whether the service already counted it as received/rejected (the ones it saw).
    """

    def __init__(self, reason: str, code: str, *, counted: bool) -> None:
        super().__init__(reason)
        self.code = code
        self.counted = counted

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> RejectedUpdate:
        return cls(outcome.reason or "rejected", outcome.code or "rejected", counted=True)


def _json_value(record: ConsumerRecord) -> Any:
    """The record's value parsed as JSON, or InvalidMessage with the reason (for the DLQ)."""
    if record.value is None:
        raise RejectedUpdate("value: empty message", "decode", counted=False)
    try:
        return json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedUpdate(f"value: not JSON ({type(exc).__name__})", "decode", counted=False) from None


def decode_court_update(record: ConsumerRecord) -> CourtUpdate:
    raw = _json_value(record)
    try:
        return parse_update(raw)
    except InvalidUpdate as exc:
        raise RejectedUpdate(exc.reason, exc.code, counted=False) from None


def court_updates_consumer(settings: LegalSettings, service: LegalService) -> ConsumerLoop[Any]:
    def handle(record: ConsumerRecord, update: CourtUpdate) -> None:
        outcome = service.submit(update, "kafka")
        if outcome.status == "rejected":
            raise RejectedUpdate.from_outcome(outcome)

    def dead_lettered(record: ConsumerRecord, reason: str) -> None:
        m.DLQ.inc()

    loop: ConsumerLoop[Any] = ConsumerLoop(
        settings,
        [COURT_UPDATES],
        settings.legal_court_updates_group,
        _counting(decode_court_update),
        handle,
        on_dead_letter=dead_lettered,
    )
    return loop


def _counting(decoder: Any) -> Any:
    def decode_and_count(record: ConsumerRecord) -> CourtUpdate:
        try:
            result: CourtUpdate = decoder(record)
        except RejectedUpdate as exc:
            if not exc.counted:
                m.UPDATES.labels("kafka", "rejected").inc()  # the service never saw it
            raise
        return result

    return decode_and_count


def decode_case_event(record: ConsumerRecord) -> Any:
    """Only the two facts that say who may read a case; every other type is skipped without decoding."""
    doc = _json_value(record)
    if not isinstance(doc, dict) or doc.get("type") not in ACCESS_TYPES:
        return None
    try:
        return decode(doc)
    except DecodeError as exc:
        raise InvalidMessage(exc.reason) from None


def case_access_consumer(settings: LegalSettings, service: LegalService) -> ConsumerLoop[Any]:
    def handle(record: ConsumerRecord, event: Any) -> None:
        if event is None:
            return
        payload = event.payload
        if isinstance(payload, CaseRegistered):
            service.record_access(payload.case_id, payload.org_id, payload.advocate_id, payload.registered_at)
        elif isinstance(payload, AdvocateAssigned):
            service.record_access(payload.case_id, payload.org_id, payload.advocate_id, payload.assigned_at)

    return ConsumerLoop(
        settings,
        [CASE_EVENTS],
        settings.legal_case_events_group,
        decode_case_event,
        handle,
    )
