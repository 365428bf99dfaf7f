"""POST /v1/court-updates: integrators push court and prosecutor updates, one or a batch."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, status
from pymongo.errors import PyMongoError

from services.legal.api.deps import Integrator, Service
from services.legal.api.schemas import CourtUpdatesResult, ItemResult
from services.legal.domain.updates import InvalidUpdate, parse_update, schema_examples
from services.legal.service import Outcome

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
        403: {"description": "not a court integrator, or an item names another source_system"},
        422: {
            "description": "the body is not an update nor a batch of them, or a single update (not a batch) "
            "does not follow the format: out-of-range date, unknown field... (detail names each field)"
        },
    },
)
def post_court_updates(
    body: Annotated[Any, Body(openapi_examples=_EXAMPLES)],
    principal: Integrator,
    service: Service,
) -> CourtUpdatesResult:
    """Each item gets its own result; one bad item never sinks the others.

    The HTTP status speaks for the request (auth, shape, size); items speak for themselves:
    ``accepted`` (stored, facts on their way to ``legal-events``), ``duplicate`` (this
    ``(source_system, update_id)`` was accepted before: nothing changed) or ``rejected`` with a
    reason naming the field (never its value). A single update sent as an object (not a batch)
    that does not follow the format is answered 422 with the field, like any other API.
    """
    items = _items(body, service.settings.legal_max_batch)
    if not principal.source_system:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "token has no source_system claim")
    for index, item in enumerate(items):
        if isinstance(item, dict) and "source_system" in item and item["source_system"] != principal.source_system:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"updates.{index}.source_system: this token may only publish for its own source system",
            )
    if len(items) == 1 and items[0] is body:
        _validate_single(body)
    try:
        outcomes = service.submit_many(items, "rest")
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
        **ids,  # type: ignore[arg-type]
    )
