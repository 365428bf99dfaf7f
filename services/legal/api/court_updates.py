"""POST /v1/court-updates: court and prosecutor updates, one or a batch.

Two kinds of author, one body and one path through the service layer:

* court integrators (role ``court_integrator``) publish for the ``source_system`` of their token, and only
  for cases whose organisation shared them with that system (intake's prosecutor references,
  ``shared_with_systems``); any other case is answered 404 exactly as an unknown case;
* people (``legal_advocate`` for the cases assigned to them, ``supervisor`` for any case of their
  organisation) record what happened at the fiscalía or the court. Their items carry
  ``source_system`` = ``CENTINELA_LEGAL_PERSON_SOURCE_SYSTEM`` (default ``centinela-web``; it may
  be left out and is filled in), which is the idempotency namespace of person-recorded updates.
  A case outside their scope is answered 404 exactly as an unknown case, and nothing of the
  request is applied.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, HTTPException, status
from pydantic import TypeAdapter
from pymongo.errors import PyMongoError

from services.legal.api.deps import Recorder, RequestId, Service
from services.legal.api.schemas import CourtUpdatesResult, ItemResult
from services.legal.domain.updates import CourtUpdate, InvalidUpdate, parse_update, schema_examples
from services.legal.service import Actor, CaseNotFound, LegalService, Outcome, person
from shared.auth import Principal

router = APIRouter(tags=["court updates"])

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")

_EXAMPLES = {
    "single": {"summary": "one update", "value": schema_examples()["hearing_postponed"]},
    "batch": {"summary": "a batch (up to 500)", "value": {"updates": list(schema_examples().values())[:3]}},
}


@router.post(
    "/v1/court-updates",
    response_model=CourtUpdatesResult,
    summary='publish court updates (one object, or {"updates": [...]} of up to 500)',
    responses={
        403: {"description": "not a court integrator, advocate or supervisor, or an item names another source_system"},
        404: {
            "description": "an item's case is unknown or outside the caller's scope: for advocates and supervisors "
            "their assigned / organisation's cases, for a court integrator the cases shared with its source_system"
        },
        422: {
            "description": "the body is not an update nor a batch of them, or a single update (not a batch) "
            "does not follow the format: out-of-range date, unknown field... (detail names each field)"
        },
    },
)
def post_court_updates(
    body: Annotated[Any, Body(openapi_examples=_EXAMPLES)],
    principal: Recorder,
    service: Service,
    rid: RequestId,
) -> CourtUpdatesResult:
    """Each item gets its own result; one bad item never sinks the others.

    The HTTP status speaks for the request (auth, shape, size); items speak for themselves:
    ``accepted`` (stored, facts on their way to ``legal-events``), ``duplicate`` (this
    ``(source_system, update_id)`` was accepted before: nothing changed) or ``rejected`` with a
    reason naming the field (never its value). A single update sent as an object (not a batch)
    that does not follow the format is answered 422 with the field, like any other API.
    """
    items = _items(body, service.settings.legal_max_batch)
    single = len(items) == 1 and items[0] is body
    recorded_by: dict[str, str] | None = None
    if principal.has("court_integrator"):
        if not principal.source_system:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "token has no source_system claim")
        _same_source(items, principal.source_system, "this token may only publish for its own source system")
        _shared(service, principal, principal.source_system, items, rid)
    else:
        source = service.settings.legal_person_source_system
        items = [{"source_system": source, **i} if isinstance(i, dict) else i for i in items]
        _same_source(items, source, f"updates recorded by people carry source_system {source!r}")
        _in_scope(service, principal, items, rid)
        recorded_by = person(principal)
    if single:
        _validate_single(items[0])
    try:
        outcomes = service.submit_many(items, "rest", recorded_by=recorded_by, actor=Actor.of(principal, rid))
    except PyMongoError:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "storage unavailable; send the batch again (items already accepted will come back as duplicates)",
        ) from None
    results = [_result(i, item, o) for i, (item, o) in enumerate(zip(items, outcomes, strict=True))]
    return CourtUpdatesResult(
        accepted=sum(r.status == "accepted" for r in results),
        duplicate=sum(r.status == "duplicate" for r in results),
        rejected=sum(r.status == "rejected" for r in results),
        results=results,
    )


def _same_source(items: list[Any], source: str, why: str) -> None:
    for index, item in enumerate(items):
        if isinstance(item, dict) and "source_system" in item and item["source_system"] != source:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"updates.{index}.source_system: {why}")


def _case_ids(items: list[Any]) -> list[tuple[str, str]]:
    return [
        (f"updates.{i}.case_id", item["case_id"])
        for i, item in enumerate(items)
        if isinstance(item, dict) and isinstance(item.get("case_id"), str) and _ID.match(item["case_id"])
    ]


def _shared(service: LegalService, principal: Principal, system: str, items: list[Any], rid: str | None) -> None:
    """A court integrator publishes only for cases shared with its system (404 otherwise, exactly as for an
    unknown case, and nothing of the request is applied)."""
    try:
        service.check_shared(system, _case_ids(items), Actor.of(principal, rid))
    except CaseNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{exc.field}: no legal timeline for this case") from None


def _in_scope(service: LegalService, principal: Principal, items: list[Any], rid: str | None) -> None:
    """Every item's case must be the caller's (404 otherwise, naming the item, never the case)."""
    wanted = _case_ids(items)
    try:
        service.check_scope(principal, wanted)
    except CaseNotFound as exc:
        outcome = "denied" if service.repo.access_of(exc.case_id) else "not_found"
        why = "out_of_scope" if outcome == "denied" else "case_not_found"
        service.audit_refusal(Actor.of(principal, rid), "legal.court_update.record", exc.case_id, outcome, why)
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{exc.field}: no legal timeline for this case") from None


def _validate_single(body: Any) -> None:
    try:
        parse_update(body)
    except InvalidUpdate as exc:
        detail = [{**e, "field": f"body.{e['field']}"} for e in exc.errors]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail) from None


def _items(body: Any, limit: int) -> list[Any]:
    if isinstance(body, list):
        items = body
        where = "body"
    elif isinstance(body, dict) and "updates" in body:
        extra = sorted(set(body) - {"updates"})
        if extra:
            raise HTTPException(422, [{"field": f"body.{extra[0]}", "type": "extra_forbidden", "msg": "unknown field"}])
        items = body["updates"]
        where = "body.updates"
        if not isinstance(items, list):
            raise HTTPException(422, [{"field": where, "type": "list_type", "msg": "must be a list of updates"}])
    elif isinstance(body, dict):
        return [body]
    else:
        raise HTTPException(422, [{"field": "body", "type": "model_type", "msg": "must be an update or a batch"}])
    if not items:
        raise HTTPException(422, [{"field": where, "type": "too_short", "msg": "at least one update"}])
    if len(items) > limit:
        raise HTTPException(422, [{"field": where, "type": "too_long", "msg": f"at most {limit} updates per request"}])
    return items


def _result(index: int, item: Any, outcome: Outcome) -> ItemResult:
    ids: dict[str, str | None] = {}
    for name in ("update_id", "case_id"):
        value = item.get(name) if isinstance(item, dict) else None
        ids[name] = value if isinstance(value, str) and _ID.match(value) else None
    return ItemResult(
        index=index,
        status=outcome.status,
        reason=outcome.reason,
        reconciled_with=outcome.reconciled_with,
        **ids,
    )


# -- the request body as the OpenAPI document tells it (issue 11 item 8)
# The route reads the body itself (``Any``) because a batch answers each item on its own instead of
# failing the request; the document still says exactly what is accepted: one update (validated as a
# whole, 422 naming the field) or a batch (its items are judged one by one, in ``results``).
UPDATE_REF = "#/components/schemas/CourtUpdate"
BATCH_REF = "#/components/schemas/CourtUpdateBatch"


def body_schemas(max_batch: int) -> dict[str, dict[str, Any]]:
    """Components: ``CourtUpdate`` (one kind, by ``kind``), each kind's model and ``CourtUpdateBatch``."""
    union = TypeAdapter(CourtUpdate).json_schema(ref_template="#/components/schemas/{model}")
    schemas: dict[str, dict[str, Any]] = dict(union.pop("$defs", {}))
    schemas["CourtUpdate"] = {
        **union,
        "title": "CourtUpdate",
        "description": "One court or prosecutor update; `kind` says which, and which fields it carries. "
        "Advocates and supervisors may leave `source_system` out (it is filled in with the person "
        "source system).",
    }
    item = {
        "description": "a court update (CourtUpdate); an item that does not follow it is rejected on its own "
        "in `results` (status rejected, reason naming the field) and never fails the batch",
        "anyOf": [{"$ref": UPDATE_REF}, {}],
    }
    schemas["CourtUpdateBatch"] = {
        "title": "CourtUpdateBatch",
        "type": "object",
        "description": "Several updates in one request, each answered in `results` at its index.",
        "required": ["updates"],
        "additionalProperties": False,
        "properties": {"updates": {"type": "array", "minItems": 1, "maxItems": max_batch, "items": item}},
    }
    return schemas


def document_body(app: FastAPI, max_batch: int) -> None:
    """Make ``app.openapi()`` declare POST /v1/court-updates's real body (instead of ``Any``)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        operation = document.get("paths", {}).get("/v1/court-updates", {}).get("post")
        if operation is None or operation.get("x-centinela-body"):
            return document
        components = document.setdefault("components", {}).setdefault("schemas", {})
        for name, schema in body_schemas(max_batch).items():
            components.setdefault(name, schema)
        legacy_list = {
            "type": "array",
            "minItems": 1,
            "maxItems": max_batch,
            "items": components["CourtUpdateBatch"]["properties"]["updates"]["items"],
            "description": "the same batch as a bare JSON array (kept for older clients)",
        }
        content = operation.setdefault("requestBody", {"required": True}).setdefault("content", {})
        media = content.setdefault("application/json", {})
        media["schema"] = {
            "title": "CourtUpdatesBody",
            "description": 'one update, or {"updates": [...]} of up to ' + f"{max_batch} updates",
            "oneOf": [{"$ref": UPDATE_REF}, {"$ref": BATCH_REF}, legacy_list],
        }
        operation["requestBody"]["required"] = True
        operation["x-centinela-body"] = True
        return document

    app.openapi = openapi  # type: ignore[method-assign]
