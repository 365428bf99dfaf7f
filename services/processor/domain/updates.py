"""``centinela.alert.updated`` now lives in :mod:`shared.events.alerts`; this name stays as a re-export.

Kept so the imports written while the fact was defined here (the alerts service, tests) keep
working; it can be deleted once they import ``shared.events.alerts.AlertUpdated``.
"""

from __future__ import annotations

from shared.events.alerts import AlertUpdated

__all__ = ["AlertUpdated"]
