"""MongoDB documents (mongoengine) of intake: the case aggregate (the audit log is the shared trail, ``store.audit``).

The case document embeds its services, sessions, flags, follow-ups and referrals plus the
``outbox`` array of pending events, so one single-document write changes the case and records
the facts it caused. Embedded items are stored as plain sub-documents (``DictField``) because
the domain model validates them; the schema here declares the indexed, queried fields.
"""

from __future__ import annotations

import mongoengine as me


class CaseDocument(me.Document):
    meta = {
        "collection": "cases",
        "strict": False,
        "auto_create_index": False,
        "indexes": [
            {"fields": ["org_id", "status"]},
            {"fields": ["person_ref"], "sparse": True},
            {"fields": ["advocate_id"], "sparse": True},
            {"fields": ["services.provider_org_id"], "sparse": True},  # a provider's listing
            {"fields": ["region"]},
            {"fields": ["registered_at"]},
            # the case listings, newest first, continued after (registered_at, id) by a cursor: one per
            # need-to-know criterion (SecantusDB plans equality + time range only from such a compound index)
            {"fields": ["org_id", "registered_at"]},
            {"fields": ["advocate_id", "registered_at"]},
            {"fields": ["services.provider_org_id", "registered_at"]},
            # registrations whose earlier cases still wait for their back-link (repair after a crash)
            {"fields": ["pending_links.case_id"], "sparse": True},
            # "office|carpeta fiscal": one case per carpeta in each office, and the resolver's lookup
            {"fields": ["prosecutor_ref_key"], "unique": True, "sparse": True},
            # cases written before place_of_exploitation was encrypted (migrated at start-up)
            {"fields": ["place_of_exploitation"], "sparse": True},
            # every compare-and-set on version (a change, a key rotation): SecantusDB serves a filter on _id
            # plus another field from no index but a compound one (it scanned the collection per write)
            {"fields": ["case_id", "version"]},
        ],
    }

    case_id = me.StringField(primary_key=True, max_length=64)
    version = me.IntField(required=True, min_value=1)
    org_id = me.StringField(required=True)
    status = me.StringField(required=True)
    advocate_id = me.StringField()
    region = me.StringField()
    place_of_exploitation = me.StringField()  # legacy plaintext only: encrypted into ``protected`` at start-up
    place_of_exploitation_code = me.StringField()
    protected = me.DictField()  # ciphertext per free-text field, like identity
    person_ref = me.StringField()
    linked_case_ids = me.ListField(me.StringField())
    identity = me.DictField()  # ciphertext per field: {"kid", "nonce", "ct"}
    registered_at = me.DateTimeField(required=True)
    updated_at = me.DateTimeField(required=True)
    services = me.ListField(me.DictField())
    sessions = me.ListField(me.DictField())
    risk_flags = me.ListField(me.DictField())
    followups = me.ListField(me.DictField())
    referrals = me.ListField(me.DictField())
    prosecutor_refs = me.DictField()
    prosecutor_ref_key = me.StringField()  # store-only, derived from prosecutor_refs
    outbox = me.ListField(me.DictField())
    pending_links = me.ListField(me.DictField())  # {"case_id", "entries"}: see CaseRepository.link
