"""Use cases on the case itself: register, list, read (audited), change."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from services.intake import metrics
from services.intake.domain import access, model
from services.intake.domain.identity import CASE_FIELD, IdentityKeyError, person_ref
from services.intake.domain.model import Case
from services.intake.service.core import (
    Caller,
    Changed,
    Forbidden,
    Intake,
    Invalid,
    PreconditionRequired,
    Unavailable,
    audit,
    denied,
    load,
    mutate,
)
from services.intake.service.paging import check_limit, codec, decode, digest
from services.intake.store.repository import CaseFilter
from shared.events.envelope import EventPayload
from shared.page_cursor import Position

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registered:
    case: Case
    person_ref_known: bool  # the same person already had a case, in any organisation
    known_elsewhere: bool  # ... in another organisation (whose case ids are never shown)
    linked_case_ids: list[str]  # only the earlier cases the registering officer may see


def register(
    ix: Intake, caller: Caller, *, fields: dict[str, Any], identity: dict[str, Any] | None, org_id: str | None
) -> Registered:
    """A new case; its identity (the JSON form of the request's block) encrypted field by field and
    matched against earlier cases by ``person_ref`` alone. ``fields`` are the case's own fields."""
    p = caller.principal
    if not p.org:
        raise Forbidden("the token carries no organisation")
    if org_id is not None and org_id != p.org:
        raise Forbidden("org_id must be your own organisation")
    now = datetime.now(UTC)
    case_id = model.new_id("cs")
    encrypted = ix.cipher.encrypt(case_id, identity or {})
    fields = dict(fields)
    protected = {
        name: ix.cipher.encrypt_field(case_id, name, value, CASE_FIELD)
        for name in model.PROTECTED_FIELDS
        if (value := fields.pop(name, None)) is not None
    }
    ref = None
    if identity is not None:
        docs = identity.get("documents") or []
        birth = identity.get("birth_date")
        ref = person_ref(
            ix.person_ref_key,
            given_names=identity.get("given_names"),
            family_names=identity.get("family_names"),
            birth_date=date.fromisoformat(birth) if isinstance(birth, str) else birth,
            document_number=docs[0]["number"] if docs else None,
        )
    owners = ix.repo.cases_of_person(ref, case_id) if ref else {}
    previous = sorted(owners)
    case = Case(
        **fields,
        **model.registration_codes(identity, now.date()),  # coded sex, age band, citizenship only
        case_id=case_id,
        org_id=p.org,
        person_ref=ref,
        linked_case_ids=previous,
        identity=encrypted,
        protected=protected,
        registered_at=now,
        registered_by=p.sub,
        updated_at=now,
    )
    events = model.register(case, previous, now)
    # The earlier cases learn of it too: their back-links and facts are written with the new case
    # (pending) and then applied, each earlier case in its own single-document write with its outbox.
    ix.repo.insert(case, events, model.earlier_case_notices(case, owners, now))
    ix.repo.link(case_id)
    ix.notify()
    metrics.cases_registered.inc()
    if previous:
        metrics.reregistrations.inc()
    visible, elsewhere = access.visible_links(p, case, owners)
    audit(
        ix,
        caller,
        "case.create",
        case_id,
        details={
            "events": [e.TYPE for e in events],
            "identity_fields": sorted(encrypted),
            "protected_fields": sorted(protected),
            "linked_case_ids": previous,  # the admin's audit trail keeps every match
        },
    )
    log.info("case registered", extra={"case_id": case_id})
    return Registered(case=case, person_ref_known=bool(previous), known_elsewhere=elsewhere, linked_case_ids=visible)


@dataclass(frozen=True)
class Listed:
    items: list[tuple[Case, access.View]]
    total: int | None
    next_cursor: str | None = None


def list_cases(
    ix: Intake,
    caller: Caller,
    filters: CaseFilter,
    limit: int,
    cursor: str | None = None,
    *,
    with_total: bool = True,
) -> Listed:
    """Newest first by (registered_at, id). ``cursor`` (the previous page's ``next_cursor``) continues
    exactly after the last case served, whatever is registered meanwhile. ``total`` only on request."""
    check_limit(ix, "query.limit", limit)
    scope = access.list_scope(caller.principal)
    next_cursor = None
    query = digest(caller, filters.query())
    after = decode(ix, "cases", cursor, query)
    cases, more = ix.repo.page(scope, filters, limit, after)
    if more and cases:
        last = cases[-1]
        next_cursor = codec(ix, "cases").encode(Position(last.registered_at, last.case_id), query)
    found = ix.repo.count(scope, filters) if with_total else None
    items = []
    for case in cases:
        view = access.case_view(caller.principal, case)
        if view is not None:
            items.append((case, view))
    audit(
        ix,
        caller,
        "case.list",
        None,
        details={"filters": sorted(filters.query()), "case_ids": [c.case_id for c, _ in items]},
    )
    return Listed(items=items, total=found, next_cursor=next_cursor)


@dataclass(frozen=True)
class CaseRead:
    case: Case
    view: access.View
    identity: dict[str, Any] | None
    linked_case_ids: list[str]  # the links this reader may see (access.visible_links)
    known_elsewhere: bool
    protected: dict[str, Any] = field(default_factory=dict)  # decrypted PROTECTED_FIELDS, full view only


def unprotect(case: Case, ix: Intake) -> dict[str, Any]:
    """The case's protected free text in plain (for those who may read the case); 503 when no configured
    key opens it, like identity."""
    try:
        return {
            name: ix.cipher.decrypt_field(case.case_id, name, blob, CASE_FIELD) for name, blob in case.protected.items()
        }
    except IdentityKeyError as exc:
        log.error("protected case field not decryptable", extra={"case_id": case.case_id})
        raise Unavailable("case data cannot be decrypted with the configured keys") from exc


def reading(
    ix: Intake, caller: Caller, case: Case, view: access.View, identity: dict[str, Any] | None = None
) -> CaseRead:
    owners = ix.repo.owners(case.linked_case_ids) if view == "full" else {}
    linked, elsewhere = access.visible_links(caller.principal, case, owners) if view == "full" else ([], False)
    return CaseRead(
        case=case,
        view=view,
        identity=identity,
        linked_case_ids=linked,
        known_elsewhere=elsewhere,
        protected=unprotect(case, ix) if view == "full" else {},
    )


def read(ix: Intake, caller: Caller, case_id: str, *, include_identity: bool) -> CaseRead:
    """Audited before anything is returned: no record, no data."""
    action = "case.read_identity" if include_identity else "case.read"
    case, view = load(ix, caller, case_id, action)
    break_glass = access.is_break_glass(caller.principal, case)
    identity = None
    if include_identity:
        if view != "full" or not access.can_see_identity(caller.principal, case):
            raise denied(ix, caller, action, case_id, "your role may not see identity data")
        try:
            identity = ix.cipher.decrypt(case.case_id, case.identity)
        except IdentityKeyError as exc:
            log.error("identity not decryptable", extra={"case_id": case_id})
            raise Unavailable("identity data cannot be decrypted with the configured keys") from exc
        metrics.identity_reads.labels("break_glass" if break_glass else "case_role").inc()
    audit(ix, caller, action, case_id, details={"view": view, "break_glass": break_glass})
    return reading(ix, caller, case, view, identity)


def update(
    ix: Intake,
    caller: Caller,
    case_id: str,
    changes: dict[str, Any],
    *,
    if_match: int | None,
    expected_version: int | None,
) -> Changed[None]:
    """A PATCH must name the version it read (If-Match or ``expected_version``): 428 otherwise."""
    expected = if_match
    if expected_version is not None:
        if expected is not None and expected != expected_version:
            raise Invalid("body.expected_version", "mismatch", "differs from If-Match")
        expected = expected_version
    if expected is None:
        raise PreconditionRequired("send If-Match with the case's ETag (or expected_version) to change a case")

    def change(case: Case) -> tuple[Case, None, list[EventPayload]]:
        effective = dict(changes)
        current = unprotect(case, ix) if any(n in changes for n in model.PROTECTED_FIELDS) else {}
        for name in model.PROTECTED_FIELDS:
            if name not in effective:
                continue
            value = effective[name]
            if value == current.get(name):
                del effective[name]  # the same text again: no change, no event
            elif value is not None:
                effective[name] = ix.cipher.encrypt_field(case.case_id, name, value, CASE_FIELD)
        new_case, events = model.update_case(case, effective, datetime.now(UTC))
        return new_case, None, events

    return mutate(
        ix,
        caller,
        case_id,
        "case.update",
        change,
        expected_version=expected,
        details=lambda _: {"fields": sorted(changes)},
    )
