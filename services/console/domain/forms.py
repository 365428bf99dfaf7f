"""Form input -> API request bodies, with the field and the reason (a msgid) for each problem.

The console checks what a person can get wrong on a form (missing, malformed, future dates) so
the answer names the field in their language before any API is called; the APIs still decide
everything else (need-to-know, legal transitions) and their refusals are mapped back to fields.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Errors = dict[str, str]
IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$")
CODE = re.compile(r"^[a-z][a-z0-9_]*$")
REQUIRED = "This field is required."
CHOOSE = "Choose one of the options."
# "CPP art. 342.1", "art. 334.2", "CPP arts. 446-448" (the legal service's citation format)
LEGAL_BASIS = re.compile(
    r"^([A-Za-z][A-Za-z0-9.]*( [A-Za-z0-9.]+){0,3} )?arts?\. ?[0-9]+(\.[0-9]+)*[a-z]?"
    r"( ?[-,y] ?[0-9]+(\.[0-9]+)*[a-z]?)*$"
)
ELEVATION_OUTCOMES = ("archive_upheld", "formalise", "continue_investigation")
REASON_REQUIRED = frozenset({"case_archived", "hearing_postponed", "trial_suspended"})
# how the child's testimony was taken (legal's testimony_taken): the single Cámara Gesell interview or not
TESTIMONY_METHODS = ("camara_gesell", "other")


def _get(form: Mapping[str, str], name: str) -> str:
    return (form.get(name) or "").strip()


def choice(
    form: Mapping[str, str],
    name: str,
    options: Mapping[str, str] | tuple[str, ...],
    errors: Errors,
    *,
    required: bool = True,
) -> str | None:
    value = _get(form, name)
    if not value:
        if required:
            errors[name] = REQUIRED
        return None
    if value not in options:
        errors[name] = CHOOSE
        return None
    return value


def local_datetime(
    form: Mapping[str, str],
    name: str,
    tz: ZoneInfo,
    errors: Errors,
    *,
    required: bool = True,
    not_future: bool = False,
    now: datetime | None = None,
) -> datetime | None:
    """``<name>_date`` (aaaa-mm-dd from the date picker) and ``<name>_time`` (hh:mm), in the org's zone."""
    d, t = _get(form, f"{name}_date"), _get(form, f"{name}_time") or "00:00"
    if not d:
        if required:
            errors[name] = REQUIRED
        return None
    try:
        value = datetime.combine(date.fromisoformat(d), time.fromisoformat(t), tzinfo=tz)
    except ValueError:
        errors[name] = "Enter a valid date and time."
        return None
    if not_future and value > (now or datetime.now(tz)) + timedelta(minutes=5):
        errors[name] = "must not be in the future"
        return None
    return value


def local_date(
    form: Mapping[str, str],
    name: str,
    errors: Errors,
    *,
    required: bool = False,
    not_future: bool = False,
    today: date | None = None,
) -> date | None:
    value = _get(form, name)
    if not value:
        if required:
            errors[name] = REQUIRED
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        errors[name] = "Enter a valid date."
        return None
    if not_future and parsed > (today or date.today()):
        errors[name] = "must not be in the future"
        return None
    return parsed


def ident(form: Mapping[str, str], name: str, errors: Errors, *, required: bool = True) -> str | None:
    value = _get(form, name)
    if not value:
        if required:
            errors[name] = REQUIRED
        return None
    if not IDENT.match(value):
        errors[name] = "Use only letters, digits and . _ : - (at most 64)."
        return None
    return value


def code(form: Mapping[str, str], name: str, errors: Errors, *, required: bool = True) -> str | None:
    value = _get(form, name).lower().replace(" ", "_").replace("-", "_")
    if not value:
        if required:
            errors[name] = REQUIRED
        return None
    if not CODE.match(value) or len(value) > 64:
        errors[name] = "Use lower-case letters, digits and _ (e.g. judge_absent)."
        return None
    return value


def session_body(
    form: Mapping[str, str],
    tz: ZoneInfo,
    outcomes: Mapping[str, str],
    reasons: Mapping[str, str],
    now: datetime | None = None,
) -> tuple[dict[str, object], Errors]:
    errors: Errors = {}
    outcome = choice(form, "outcome", outcomes, errors)
    occurred = local_datetime(form, "occurred_at", tz, errors, not_future=True, now=now)
    reason = choice(form, "missed_reason", reasons, errors, required=False)
    if outcome == "missed" and not reason:
        errors.setdefault("missed_reason", "Say why the session was missed.")
    body: dict[str, object] = {"outcome": outcome, "occurred_at": occurred.isoformat() if occurred else None}
    if reason and outcome != "attended":
        body["missed_reason"] = reason
    return body, errors


def risk_body(
    form: Mapping[str, str],
    tz: ZoneInfo,
    kinds: Mapping[str, str],
    severities: Mapping[str, str],
    now: datetime | None = None,
) -> tuple[dict[str, object], Errors]:
    errors: Errors = {}
    kind = choice(form, "kind", kinds, errors)
    severity = choice(form, "severity", severities, errors)
    observed = local_datetime(form, "observed_at", tz, errors, required=False, not_future=True, now=now)
    body: dict[str, object] = {"kind": kind, "severity": severity}
    if observed:
        body["observed_at"] = observed.isoformat()
    return body, errors


def court_update_body(
    form: Mapping[str, str],
    case_id: str,
    source_system: str,
    tz: ZoneInfo,
    kinds: Mapping[str, str],
    fields: Mapping[str, tuple[str, ...]],
    stages: Mapping[str, str],
    complexities: Mapping[str, str],
    verdicts: Mapping[str, str],
    now: datetime | None = None,
) -> tuple[dict[str, object], Errors]:
    errors: Errors = {}
    kind = choice(form, "kind", kinds, errors)
    occurred = local_datetime(form, "occurred_at", tz, errors, not_future=True, now=now)
    body: dict[str, object] = {
        # the idempotency key: one per form shown, so a double submit is a duplicate, not two events
        "update_id": _get(form, "update_id") if IDENT.match(_get(form, "update_id")) else f"con-{uuid.uuid4().hex}",
        "case_id": case_id,
        "kind": kind,
        "occurred_at": occurred.isoformat() if occurred else None,
    }
    if source_system:
        body["source_system"] = source_system
    for name in fields.get(kind or "", ()):
        if name == "stage":
            value: object = choice(
                form,
                "stage",
                {k: v for k, v in stages.items() if k != "archived"},
                errors,
                required=kind == "stage_changed",
            )
        elif name == "complexity":
            value = choice(form, "complexity", complexities, errors, required=kind == "complexity_declared")
        elif name == "outcome":
            value = choice(form, "outcome", verdicts, errors)
        elif name == "elevation_outcome":
            value = choice(form, "elevation_outcome", ELEVATION_OUTCOMES, errors)
            if value is not None:
                body["outcome"] = value
            continue
        elif name == "against":
            value = choice(form, "against", ("sentence", "order"), errors, required=False)
        elif name == "legal_basis":
            raw = " ".join(_get(form, "legal_basis").split())
            value = raw or None
            if raw and not LEGAL_BASIS.match(raw):
                errors["legal_basis"] = "Cite the article, e.g. CPP art. 342.1"
            elif not raw and kind == "deadline_extended":
                errors["legal_basis"] = REQUIRED
        elif name in ("granted_by", "order"):
            value = code(form, name, errors)
        elif name == "extra_days":
            raw = _get(form, "extra_days")
            value = None
            if raw:
                if raw.isdigit() and 1 <= int(raw) <= 3650:
                    value = int(raw)
                else:
                    errors["extra_days"] = "Enter a whole number of days between 1 and 3650."
        elif name in ("hearing_id", "representative_ref"):
            value = ident(form, name, errors, required=name == "hearing_id")
        elif name == "measure_id":
            # a granted measure is named by its update unless the court's reference is given
            value = ident(form, name, errors, required=kind != "protective_measure_granted")
        elif name == "method":
            value = choice(form, "method", TESTIMONY_METHODS, errors)
        elif name == "expires_at":
            at = local_datetime(form, name, tz, errors, required=kind == "protective_measure_renewed")
            value = None
            if at and occurred and at <= occurred:
                errors["expires_at"] = "The measure must end after the date it was ordered."
            elif at:
                value = at.isoformat()
        elif name in ("reason", "measure", "about"):
            value = code(
                form, name, errors, required=name == "measure" or (name == "reason" and kind in REASON_REQUIRED)
            )
        elif name in ("scheduled_for", "new_date", "new_deadline"):
            at = local_datetime(form, name, tz, errors, required=name == "scheduled_for")
            value = at.isoformat() if at else None
        elif name == "amount":
            raw = _get(form, "amount").replace(",", ".")
            value = None
            if raw:
                try:
                    value = float(raw)
                    if value < 0:
                        raise ValueError
                except ValueError:
                    errors["amount"] = "Enter an amount of zero or more."
                    value = None
        elif name == "currency":
            raw = _get(form, "currency").upper()
            value = raw or None
            if raw and not re.fullmatch(r"[A-Z]{3}", raw):
                errors["currency"] = "Use a three-letter currency code (PEN)."
        else:
            value = _get(form, name) or None
        if value is not None:
            body[name] = value
    if kind == "deadline_extended" and ("new_deadline" in body) == ("extra_days" in body) and not errors:
        errors["extra_days"] = "Give either the new deadline or the extra days, not both."
    return body, errors


def api_field(path: str) -> str:
    """``body.identity.birth_date`` -> ``birth_date``; ``updates.0.hearing_id: ...`` -> ``hearing_id``."""
    head = path.split(":", 1)[0].strip()
    return head.split(".")[-1] if head else ""
