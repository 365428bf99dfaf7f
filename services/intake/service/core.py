"""What every intake use case shares: the caller, the typed errors, the audit record, and the one
read-modify-write loop (load, decide with the domain, write once with the outbox, audit).

Out-of-scope cases answer 404 (never confirm that another organisation's case exists); roles
that may not use a route at all are refused by the API guard before any lookup.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from services.intake import metrics
from services.intake.domain import access, model
from services.intake.domain.identity import IdentityCipher
from services.intake.domain.model import Case
from services.intake.settings import IntakeSettings
from services.intake.store.audit import AuditLog
from services.intake.store.case_files import CaseFiles
from services.intake.store.repository import CaseRepository
from shared import vocab
from shared.auth import Principal
from shared.errors import CentinelaError
from shared.events.envelope import EventPayload

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_RETRIES = 5


@dataclass
class Intake:
    """What the use cases need, built once at start-up and kept on ``app.state.intake``."""

    settings: IntakeSettings
    repo: CaseRepository
    audit: AuditLog
    cipher: IdentityCipher
    person_ref_key: bytes
    notify: Callable[[], None]
    files: CaseFiles  # case documents (encrypted content)


@dataclass(frozen=True)
class Caller:
    """Who is asking, and the request facts the audit trail keeps."""

    principal: Principal
    request_id: str | None = None
    access_reason: str | None = None  # the raw X-Access-Reason header; validated only where it matters

    @property
    def sub(self) -> str:
        return self.principal.sub

    @property
    def org(self) -> str | None:
        return self.principal.org

    def has(self, *roles: str) -> bool:
        return self.principal.has(*roles)


# --- errors: the API maps them to HTTP with one handler ------------------------------------------
class IntakeError(CentinelaError, status_code=400, reason="bad_request"):
    """A refusal the caller should see: an HTTP status and a detail that never carries personal data
    (a message, or a list of ``{"field", "type", "msg"}`` like request validation errors)."""

    def __init__(self, detail: str | list[dict[str, Any]]) -> None:
        super().__init__(detail if isinstance(detail, str) else "invalid request")
        self.detail = detail


class NotFound(IntakeError, status_code=404, reason="not_found"): ...


class Forbidden(IntakeError, status_code=403, reason="forbidden"): ...


class Conflict(IntakeError, status_code=409, reason="conflict"): ...


class PreconditionRequired(IntakeError, status_code=428, reason="precondition_required"): ...


class Invalid(IntakeError, status_code=422, reason="invalid_input"):
    """422 naming the field, in the same shape as request validation errors."""

    def __init__(self, field: str, type_: str, msg: str) -> None:
        super().__init__([{"field": field, "type": type_, "msg": msg}])
        self.field = field


class Unavailable(IntakeError, status_code=503, reason="unavailable"): ...


def refused(exc: model.DomainError) -> IntakeError:
    """The domain's refusal as the caller sees it (its message never carries personal data): a bad
    request body is 422 naming the field, a clash with what the case holds is 409."""
    if isinstance(exc, model.NotFound):
        return NotFound(exc.message)
    if isinstance(exc, model.InvalidInput):
        return Invalid(f"body.{exc.field}", exc.type, exc.message)
    return Conflict(exc.message)


# --- audit ------------------------------------------------------------------------------------------
def audit(
    ix: Intake,
    caller: Caller,
    action: str,
    case_id: str | None,
    *,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    p = caller.principal
    ix.audit.record(
        actor=p.sub,
        role=p.role,
        roles=sorted(p.roles),
        org=p.org,
        action=action,
        case_id=case_id,
        outcome=outcome,
        request_id=caller.request_id,
        reason=reason if reason is not None else (caller.access_reason or "")[:500] or None,
        details=details,
    )


def denied(ix: Intake, caller: Caller, action: str, case_id: str, why: str) -> Forbidden:
    audit(ix, caller, action, case_id, outcome="denied", details={"why": why})
    return Forbidden(why)


def out_of_scope(ix: Intake, caller: Caller, action: str, case_id: str) -> NotFound:
    audit(ix, caller, action, case_id, outcome="denied", details={"why": "out_of_scope"})
    return NotFound("case not found")


def missing(ix: Intake, caller: Caller, action: str, case_id: str, what: str = "case") -> NotFound:
    """A read or change of an id that does not exist is audited too (probing leaves a trail)."""
    audit(ix, caller, action, case_id, outcome="not_found", details={"why": f"{what}_not_found"})
    return NotFound(f"{what} not found")


def checked_reason(raw: str | None, required: bool) -> str | None:
    reason = raw.strip() if raw is not None else None
    if reason is not None and not 10 <= len(reason) <= 500:
        raise Invalid("header.X-Access-Reason", "length", "must be 10 to 500 characters")
    if required and not reason:
        raise IntakeError(
            [{"field": "header.X-Access-Reason", "type": "missing", "msg": "break-glass access needs a stated reason"}]
        )
    return reason


# --- reading and changing one case -------------------------------------------------------------------
def scoped(ix: Intake, caller: Caller, action: str, case: Case) -> access.View:
    view = access.case_view(caller.principal, case)
    if view is None:
        raise out_of_scope(ix, caller, action, case.case_id)
    return view


def load(ix: Intake, caller: Caller, case_id: str, action: str) -> tuple[Case, access.View]:
    """The case and the caller's view of it, or 404 (missing and out-of-scope look the same)."""
    case = ix.repo.get(case_id)
    if case is None:
        raise missing(ix, caller, action, case_id)
    view = scoped(ix, caller, action, case)
    if access.is_break_glass(caller.principal, case) and not checked_reason(caller.access_reason, required=False):
        audit(ix, caller, action, case_id, outcome="denied", details={"why": "break_glass_without_reason"})
        checked_reason(caller.access_reason, required=True)
    return case, view


Authorize = Callable[[Case], None]


def manager(ix: Intake, caller: Caller, action: str) -> Authorize:
    """Only the owning organisation's staff may plan, refer and change the case."""

    def authorize(case: Case) -> None:
        scoped(ix, caller, action, case)
        if not access.can_manage(caller.principal, case):
            raise denied(ix, caller, action, case.case_id, "only the owning organisation's staff may do this")

    return authorize


def in_scope(ix: Intake, caller: Caller, action: str) -> Authorize:
    def authorize(case: Case) -> None:
        scoped(ix, caller, action, case)

    return authorize


@dataclass(frozen=True)
class Changed(Generic[T]):
    """The case after the change (its version is the new ETag) and what the change produced."""

    case: Case
    result: T


def mutate(
    ix: Intake,
    caller: Caller,
    case_id: str,
    action: str,
    change: Callable[[Case], tuple[Case, T, list[EventPayload]]],
    *,
    authorize: Authorize | None = None,
    expected_version: int | None = None,
    details: Callable[[T], dict[str, Any]] | None = None,
) -> Changed[T]:
    """Read-modify-write on the case with a version compare-and-set; retried on a lost race unless
    the caller pinned a version (If-Match), which then answers 409. ``authorize`` defaults to the
    owning organisation's staff."""
    guard = authorize or manager(ix, caller, action)
    for _ in range(MAX_RETRIES):
        case = ix.repo.get(case_id)
        if case is None:
            raise missing(ix, caller, action, case_id)
        guard(case)
        if expected_version is not None and case.version != expected_version:
            metrics.version_conflicts.inc()
            raise Conflict(f"version conflict: the case is at version {case.version}")
        try:
            new_case, result, events = change(case)
        except model.DomainError as exc:
            raise refused(exc) from None
        if not events:
            return Changed(case, result)
        if ix.repo.save(case.version, new_case, events):
            ix.notify()
            extra = details(result) if details else {}
            audit(ix, caller, action, case_id, details={"events": [e.TYPE for e in events], **extra})
            log.info("case changed", extra={"case_id": case_id})
            return Changed(new_case, result)
        metrics.version_conflicts.inc()
        if expected_version is not None:
            raise Conflict("version conflict: the case changed meanwhile")
    raise Conflict("the case is changing too fast; retry")


def change_case(
    ix: Intake,
    caller: Caller,
    case_id: str,
    action: str,
    step: Callable[..., tuple[Case, T, list[EventPayload]]],
    *,
    if_match: int | None,
    details: Callable[[T], dict[str, Any]],
    authorize: Authorize | None = None,
    ids: tuple[str, ...] = (),
    **arguments: Any,
) -> Changed[T]:
    """:func:`mutate` with one domain step, ``step(case, *ids, **arguments, now=<now>)``: the shape of
    most use cases (``ids``: what in the case the step changes, e.g. a service id)."""

    def change(case: Case) -> tuple[Case, T, list[EventPayload]]:
        return step(case, *ids, **arguments, now=datetime.now(UTC))

    return mutate(ix, caller, case_id, action, change, authorize=authorize, expected_version=if_match, details=details)


CASE_ID_RE = vocab.CASE_ID_RE
