"""The intake use cases. Routes call these functions, never the store.

* ``core``: the caller, the typed errors (mapped to HTTP by the API), audit, load and the one
  read-modify-write loop (``mutate``: load, decide with the domain, write once with the outbox, audit);
* ``cases``: register, list, read, change a case;
* ``items``: services and sessions, risk flags, follow-ups, referrals;
* ``oversight``: the audit log and aggregate counts.
"""
