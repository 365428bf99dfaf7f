"""MongoDB documents of the alerts service (mongoengine declares the schema and the indexes).

State changes use the collections directly (``Doc._get_collection()``) for single-document
conditional updates: there are no multi-document transactions, and an update filtered on the
state it is allowed from (applied atomically by the database) is what keeps two workers from
applying the same transition twice.
"""

from __future__ import annotations

from mongoengine import (
    BooleanField,
    DateTimeField,
    DictField,
    Document,
    FloatField,
    IntField,
    ListField,
    StringField,
)
from pymongo.errors import OperationFailure

_INDEX_NOT_FOUND = 27


class AlertDoc(Document):
    meta = {
        "collection": "alerts",
        "indexes": [
            # the inbox: one caller's alerts newest first, continued after (raised_at, _id) by a cursor
            {"fields": ["advocate_id", "-raised_at", "-_id"]},
            {"fields": ["org_id", "-raised_at", "-_id"]},
            {"fields": ["status", "severity", "escalation_level", "raised_at"]},
            # snoozes that are over: only snoozed alerts have an entry, so storing a new alert writes none
            {"fields": ["snoozed_until"], "partialFilterExpression": {"status": "snoozed"}},
            {"fields": ["case_id", "-raised_at", "-_id"]},
            # the sweep of notifications a crash left unqueued: sparse, only alerts with some pending
            {"fields": ["notify_since"], "sparse": True},
        ],
    }
    id = StringField(primary_key=True)  # the deterministic alert_id of the event
    case_id = StringField(required=True)
    rule = StringField(required=True)
    episode = IntField(required=True)
    severity = StringField(required=True)
    org_id = StringField()
    advocate_id = StringField()
    summary = StringField()
    evidence = DictField()
    raised_at = DateTimeField(required=True)
    raised_event_id = StringField()
    status = StringField(required=True)
    acknowledged_at = DateTimeField()
    acknowledged_by = StringField()
    snoozed_until = DateTimeField()
    snoozed_by = StringField()
    resolved_at = DateTimeField()
    resolved_by = StringField()
    resolved_auto = BooleanField()
    resolution_reason = StringField()
    escalation_level = IntField(default=0)
    version = IntField(default=0)  # bumped by every transition (orders the history)
    escalated_at = DateTimeField()
    created_at = DateTimeField()
    updated_at = DateTimeField()
    history = ListField(DictField())  # who did what, with their comment (comments never leave the service)
    outbox = ListField(DictField())
    notify = ListField(DictField())  # e-mails / webhooks of a change not yet queued as jobs (kind + event)
    notify_since = DateTimeField()


class OutboxLeaseDoc(Document):
    meta = {"collection": "outbox_leases"}
    id = StringField(primary_key=True)
    owner = StringField()
    until = DateTimeField()


class DirectoryEntryDoc(Document):
    """Staff contact directory (advocates, supervisors) kept by admins; never a child's data."""

    meta = {"collection": "directory", "indexes": [{"fields": ["org_id", "role"]}]}
    id = StringField(primary_key=True)  # the user's token ``sub``
    email = StringField(required=True)
    org_id = StringField(required=True)
    role = StringField(required=True)
    updated_at = DateTimeField()
    updated_by = StringField()


class SubscriptionDoc(Document):
    meta = {"collection": "subscriptions"}
    id = StringField(primary_key=True)
    url = StringField(required=True)
    secret = StringField(required=True)  # needed in clear to sign; never returned by the API
    rules = ListField(StringField())
    severities = ListField(StringField())
    org_id = StringField()
    description = StringField()
    created_at = DateTimeField()
    created_by = StringField()


class DeliveryDoc(Document):
    """One webhook delivery attempt."""

    meta = {"collection": "deliveries", "indexes": [{"fields": ["subscription_id", "-at", "-_id"]}]}
    id = StringField(primary_key=True)
    subscription_id = StringField(required=True)
    job_id = StringField()
    event_id = StringField()
    event_type = StringField()
    alert_id = StringField()
    attempt = IntField()
    at = DateTimeField()
    outcome = StringField()  # delivered | failed | blocked (address not allowed at delivery time)
    status_code = IntField()
    error = StringField()
    duration_ms = FloatField()


class NotifyJobDoc(Document):
    """A pending e-mail or webhook delivery: durable, retried with backoff by the delivery worker."""

    meta = {
        "collection": "notify_jobs",
        # due jobs, and jobs whose sender died mid-attempt (two claim shapes, one index each)
        "indexes": [{"fields": ["status", "next_attempt_at"]}, {"fields": ["status", "lease_until"]}],
    }
    id = StringField(primary_key=True)  # deterministic: a replayed event never enqueues twice
    channel = StringField(required=True)  # email | webhook
    status = StringField(required=True)  # pending | sending | done | failed | cancelled
    attempts = IntField(default=0)
    next_attempt_at = DateTimeField()
    lease_until = DateTimeField()
    payload = DictField()
    last_error = StringField()
    created_at = DateTimeField()
    finished_at = DateTimeField()


ALL_DOCUMENTS: tuple[type[Document], ...] = (
    AlertDoc,
    OutboxLeaseDoc,
    DirectoryEntryDoc,
    SubscriptionDoc,
    DeliveryDoc,
    NotifyJobDoc,
)


#: indexes an earlier version created that no query uses any more: each one is written for every
#: stored alert, so start-up drops them (``status_1_snoozed_until_1``: replaced by the partial
#: ``snoozed_until_1``, which holds only the alerts that are snoozed)
RETIRED_INDEXES: dict[type[Document], tuple[str, ...]] = {AlertDoc: ("status_1_snoozed_until_1",)}


def ensure_indexes() -> None:
    for doc in ALL_DOCUMENTS:
        doc.ensure_indexes()
    for doc, names in RETIRED_INDEXES.items():
        coll = doc._get_collection()
        present = set(coll.index_information())
        for name in names:
            if name in present:
                try:
                    coll.drop_index(name)
                except OperationFailure as exc:  # another instance starting at the same time dropped it first
                    if exc.code != _INDEX_NOT_FOUND:
                        raise
