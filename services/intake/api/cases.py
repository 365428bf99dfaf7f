"""/v1/cases and /v1/cases/{case_id}: register, list, read, change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api import views
from services.intake.api.deps import CaseId, CreateCaller, IfMatch, Ix, ListCaller, ManageCaller, ReadCaller, etag
from services.intake.api.paging import PagingParams
from services.intake.domain import model
from services.intake.service import cases
from services.intake.service.paging import check_limit
from services.intake.store.repository import CaseFilter

router = APIRouter(tags=["cases"])


@router.post("/cases", status_code=201, response_model=s.CaseCreated, summary="register a case")
def create_case(body: s.CaseCreate, response: Response, ix: Ix, caller: CreateCaller) -> s.CaseCreated:
    done = cases.register(
        ix,
        caller,
        fields=body.model_dump(exclude={"identity", "org_id"}),
        identity=body.identity.model_dump(mode="json", exclude_none=True) if body.identity else None,
        org_id=body.org_id,
    )
    response.headers["ETag"] = etag(done.case.version)
    response.headers["Location"] = f"/v1/cases/{done.case.case_id}"
    return s.CaseCreated(
        case_id=done.case.case_id,
        version=done.case.version,
        person_ref_known=done.person_ref_known,
        known_elsewhere=done.known_elsewhere,
        linked_case_ids=done.linked_case_ids,
    )


@router.get(
    "/cases",
    response_model=s.CasePage,
    summary="list cases, newest first, by cursor (never identity)",
    responses={
        422: {
            "description": "a bad filter, `limit` above the maximum, or a `cursor` not issued for this "
            "caller and these filters (query.cursor)"
        }
    },
)
def list_cases(
    ix: Ix,
    caller: ListCaller,
    paging: PagingParams,
    status_: Annotated[model.CaseStatus | None, Query(alias="status")] = None,
    region: Annotated[str | None, Query(max_length=64)] = None,
    advocate_id: Annotated[str | None, Query(max_length=64)] = None,
    org_id: Annotated[str | None, Query(max_length=64)] = None,
) -> s.CasePage:
    filters = CaseFilter(status=status_, region=region, advocate_id=advocate_id, org_id=org_id)
    check_limit(ix, paging.limit_field, paging.limit)
    listed = cases.list_cases(ix, caller, filters, paging.limit, paging.cursor, with_total=paging.total)
    items = [views.summary(case, view) for case, view in listed.items]
    return s.CasePage(
        items=items,
        limit=paging.limit,
        next_cursor=listed.next_cursor,
        total=listed.total,
    )


@router.get(
    "/cases/{case_id}",
    response_model=s.CaseOut,
    summary="read a case (audited)",
    responses=r.merged(
        r.BREAK_GLASS,
        {403: r.refusal("the role may not read this case, or may not see identity (include_identity)")},
        {422: {"description": "a bad case id, or X-Access-Reason shorter than 10 or longer than 500 characters"}},
    ),
)
def get_case(
    case_id: CaseId,
    response: Response,
    ix: Ix,
    caller: ReadCaller,
    include_identity: Annotated[bool, Query(description="decrypt the identity block (allowed roles only)")] = False,
) -> s.CaseOut:
    read = cases.read(ix, caller, case_id, include_identity=include_identity)
    response.headers["ETag"] = etag(read.case.version)
    return views.case_out(caller.principal, read)


@router.patch(
    "/cases/{case_id}",
    response_model=s.CaseOut,
    summary="change status / advocate / fields (If-Match required)",
    responses=r.merged(
        r.conflict(),
        r.PRECONDITION_REQUIRED,
        {
            422: {
                "description": "a field is invalid (advocate_id cannot be removed: name another), or the body's "
                "expected_version differs from If-Match, or If-Match is not an ETag"
            }
        },
    ),
)
def patch_case(
    case_id: CaseId, body: s.CasePatch, response: Response, ix: Ix, caller: ManageCaller, version: IfMatch
) -> s.CaseOut:
    changes = body.model_dump(include=body.model_fields_set - {"expected_version"})
    done = cases.update(ix, caller, case_id, changes, if_match=version, expected_version=body.expected_version)
    response.headers["ETag"] = etag(done.case.version)
    return views.case_out(caller.principal, cases.reading(ix, caller, done.case, "full"))
