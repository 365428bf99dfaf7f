"""Labels of the APIs' codes, as message ids (translated at render time with ``_``).

The tables are data: ``services/console/labels.yaml`` (``labels.RULES`` is its ``rules`` table,
and so on for every upper-case name not defined here). Extraction reads that file too
(``i18n.extract_labels``), so each label is in the catalogues like a ``_("...")`` of the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

LABELS_FILE = Path(__file__).resolve().parent.parent / "labels.yaml"
_DATA: dict[str, Any] = yaml.safe_load(LABELS_FILE.read_text(encoding="utf-8"))
_TABLES: dict[str, dict[str, str]] = {
    name.upper(): {str(k): str(v) for k, v in value.items()} for name, value in _DATA.items() if isinstance(value, dict)
}


def N_(msgid: str) -> str:  # noqa: N802 (gettext convention: marks a msgid for extraction)
    return msgid


def __getattr__(name: str) -> dict[str, str]:
    """``labels.RULES``, ``labels.STAGES``, ...: a table of labels.yaml, code -> English msgid."""
    try:
        return _TABLES[name]
    except KeyError:
        raise AttributeError(name) from None


SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
# The kind-specific fields of each court update (README "The court update format").
COURT_FIELDS: dict[str, tuple[str, ...]] = {
    "stage_changed": ("stage", "complexity"),
    "hearing_scheduled": ("hearing_id", "scheduled_for"),
    "hearing_held": ("hearing_id",),
    "hearing_postponed": ("hearing_id", "reason", "new_date"),
    "victim_notified": ("about",),
    "victim_attended": ("hearing_id",),
    "victim_absent": ("hearing_id",),
    "legal_representation_assigned": ("representative_ref",),
    "protective_measure_granted": ("measure",),
    "verdict_issued": ("outcome",),
    "reparation_ordered": ("amount", "currency"),
    "reparation_paid": ("amount", "currency"),
    "appeal_filed": ("against",),
    "case_archived": ("reason",),
    "case_reopened": ("reason", "stage"),
    "deadline_extended": ("granted_by", "legal_basis", "new_deadline", "extra_days"),
    "complexity_declared": ("complexity", "legal_basis"),
    "provisional_reserve": ("reason",),
    "principio_de_oportunidad": ("legal_basis",),
    "elevation_requested": (),
    "elevation_decided": ("elevation_outcome",),
    "accusation_filed": (),
    "dismissal_requested": (),
    "trial_suspended": ("reason",),
    "trial_resumed": (),
    "order_issued": ("order",),
}


def view_action(action: str | None) -> str:
    """A known action's words; else whether it read or changed the case, from the action's last word."""
    action = action or ""
    known = _TABLES["VIEW_ACTIONS"]
    if action in known:
        return known[action]
    last = action.rsplit(".", 1)[-1]
    return str(_DATA["view_read" if last in ("read", "list", "views", "get", "search", "export") else "view_write"])
