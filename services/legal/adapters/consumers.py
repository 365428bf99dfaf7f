"""Kafka adapters: court updates published by integrators (each only for the cases shared with its
system), and case access and shares from intake's case-events.

Both run on a :class:`PartitionedConsumer`: poison to the topic's DLQ, transient trouble retried
per partition, lag and stuck state reported. An offset is committed only after the handler
returned, i.e. after the single atomic insert that stores the update together with its outgoing
events (the outbox), so neither a crash nor a broker outage loses an update. Both call the
service layer, never the store.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord

from services.legal import metrics as m
from services.legal.domain.errors import Rejection
from services.legal.domain.updates import CourtUpdate, InvalidUpdate, parse_update
from services.legal.service import Actor, CaseNotFound, LegalService, Outcome
from services.legal.settings import LegalSettings
from shared.consumer import PartitionedConsumer
from shared.consumer import poison_reason as shared_poison_reason
from shared.events import DecodeError, decode
from shared.events.case import AdvocateAssigned, CaseRegistered, ProsecutorRefsSet
from shared.kafka import InvalidMessage
from shared.topics import CASE_EVENTS, COURT_UPDATES

log = logging.getLogger(__name__)

ACCESS_TYPES = frozenset({CaseRegistered.TYPE, AdvocateAssigned.TYPE, ProsecutorRefsSet.TYPE})


class RejectedUpdate(InvalidMessage):
    """A court update the legal service refused for good: dead-lettered with its reason and code."""

    def __init__(self, reason: str, code: str) -> None:
        super().__init__(reason)
        self.code = code

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> RejectedUpdate:
        return cls(outcome.reason or "rejected", outcome.code or "rejected")


def poison_reason(exc: BaseException) -> tuple[str, str] | None:
    """(reason, code) of a message that can never be processed: a legal :class:`Rejection` (it is
    not a ``CentinelaError``), else what the shared consumer recognises."""
    if isinstance(exc, Rejection):
        return exc.reason, exc.code
    return shared_poison_reason(exc)


# Dead-letter codes of messages the service never counted as received (it never saw them whole).
_UNCOUNTED = frozenset({"decode", "invalid", "unexpected", "not_shared"})


def _json_value(record: ConsumerRecord) -> Any:
    """The record's value parsed as JSON, or InvalidMessage with the reason (for the DLQ)."""
    if record.value is None:
        raise RejectedUpdate("value: empty message", "decode")
    try:
        return json.loads(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RejectedUpdate(f"value: not JSON ({type(exc).__name__})", "decode") from None


def decode_court_update(record: ConsumerRecord) -> CourtUpdate:
    raw = _json_value(record)
    try:
        return parse_update(raw)
    except InvalidUpdate as exc:
        raise RejectedUpdate(exc.reason, exc.code) from None


def court_updates_consumer(settings: LegalSettings, service: LegalService) -> PartitionedConsumer[CourtUpdate]:
    def handle(record: ConsumerRecord, update: CourtUpdate) -> None:
        # the integrator publishes only for cases shared with its system (CENTINELA_LEGAL_INTEGRATOR_BINDING)
        try:
            service.check_shared(
                update.source_system, [("case_id", update.case_id)], Actor.system(update.source_system)
            )
        except CaseNotFound:
            raise RejectedUpdate("case_id: not shared with this source_system", "not_shared") from None
        outcome = service.submit(update, "kafka")
        if outcome.status == "rejected":
            raise RejectedUpdate.from_outcome(outcome)

    def dead_lettered(record: ConsumerRecord, reason: str, code: str) -> None:
        m.DLQ.inc()
        if code in _UNCOUNTED:
            m.UPDATES.labels("kafka", "rejected").inc()

    return PartitionedConsumer(
        settings,
        COURT_UPDATES,
        settings.legal_court_updates_group,
        decode_court_update,
        handle,
        on_dead_letter=dead_lettered,
        poison=poison_reason,
        max_attempts=settings.legal_consumer_max_attempts,
        retry_window=settings.legal_consumer_retry_window_seconds,
        stuck_after=settings.legal_consumer_stuck_after_seconds,
        lag_interval=settings.legal_consumer_lag_interval_seconds,
    )


def decode_case_event(record: ConsumerRecord) -> Any:
    """Only the facts that say who may read a case and which integrators it is shared with; every other
    type is skipped without decoding."""
    doc = _json_value(record)
    if not isinstance(doc, dict) or doc.get("type") not in ACCESS_TYPES:
        return None
    try:
        return decode(doc)
    except DecodeError as exc:
        raise InvalidMessage(exc.reason) from None


def case_access_consumer(settings: LegalSettings, service: LegalService) -> PartitionedConsumer[Any]:
    def handle(record: ConsumerRecord, event: Any) -> None:
        if event is None:
            return
        payload = event.payload
        if isinstance(payload, CaseRegistered):
            service.record_access(payload.case_id, payload.org_id, payload.advocate_id, payload.registered_at)
        elif isinstance(payload, AdvocateAssigned):
            service.record_access(payload.case_id, payload.org_id, payload.advocate_id, payload.assigned_at)
        elif isinstance(payload, ProsecutorRefsSet):
            service.record_shares(payload.case_id, payload.org_id, payload.shared_with_systems, payload.set_at)

    return PartitionedConsumer(
        settings,
        CASE_EVENTS,
        settings.legal_case_events_group,
        decode_case_event,
        handle,
        poison=poison_reason,
        max_attempts=settings.legal_consumer_max_attempts,
        retry_window=settings.legal_consumer_retry_window_seconds,
        stuck_after=settings.legal_consumer_stuck_after_seconds,
        lag_interval=settings.legal_consumer_lag_interval_seconds,
    )
