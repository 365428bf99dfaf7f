"""Labels of the APIs' codes, as message ids (translated at render time with ``_``).

The tables are data: ``services/console/labels.yaml`` (``labels.RULES`` is its ``rules`` table,
and so on for every upper-case name not defined here). Extraction reads that file too
(``i18n.extract_labels``), so each label is in the catalogues like a ``_("...")`` of the code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel

from services.legal.domain import updates as court_updates

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
# The court update kinds and their fields come from the legal service's own format
# (services/legal/domain/updates.py), so a kind legal accepts is offered by the form without a copy to
# forget; labels.yaml gives each its words. A field legal adds needs a widget in
# templates/partials/legal_fields.html and a check in domain/forms.py (tests/unit/console/test_court_kinds.py).
# Not offered to people: `imported` marks the first update of a caseload an integrator brings in.
_NOT_OFFERED = frozenset({("stage_changed", "imported")})
# Form names that differ from the API's (two kinds have an `outcome`, with different options).
_FORM_NAMES = {("elevation_decided", "outcome"): "elevation_outcome"}
_COMMON = frozenset({"source_system", "update_id", "case_id", "occurred_at", "kind"})


def court_models() -> dict[str, type[BaseModel]]:
    """Each kind legal accepts -> its pydantic model, in the order of legal's ``KINDS``."""
    models: dict[str, type[BaseModel]] = {}
    for model in get_args(get_args(court_updates.CourtUpdate)[0]):
        models[get_args(model.model_fields["kind"].annotation)[0]] = model
    return {kind: models[kind] for kind in court_updates.KINDS}


def _court_fields(required_only: bool) -> dict[str, tuple[str, ...]]:
    return {
        kind: tuple(
            _FORM_NAMES.get((kind, name), name)
            for name, info in model.model_fields.items()
            if name not in _COMMON and (kind, name) not in _NOT_OFFERED and (info.is_required() or not required_only)
        )
        for kind, model in court_models().items()
    }


# the kind-specific fields of each court update, and those legal requires
COURT_FIELDS: dict[str, tuple[str, ...]] = _court_fields(required_only=False)
COURT_REQUIRED: dict[str, tuple[str, ...]] = _court_fields(required_only=True)
# labels.yaml's order first (how an advocate meets them), then any kind legal accepts that has no words
# here yet (shown by its code: the catalogue test then fails until it has a label and translations)
COURT_KINDS: dict[str, str] = {
    **{k: v for k, v in _TABLES["COURT_KINDS"].items() if k in COURT_FIELDS},
    **{k: k for k in COURT_FIELDS if k not in _TABLES["COURT_KINDS"]},
}


def view_action(action: str | None) -> str:
    """A known action's words; else whether it read or changed the case, from the action's last word."""
    action = action or ""
    known = _TABLES["VIEW_ACTIONS"]
    if action in known:
        return known[action]
    last = action.rsplit(".", 1)[-1]
    return str(_DATA["view_read" if last in ("read", "list", "views", "get", "search", "export") else "view_write"])
