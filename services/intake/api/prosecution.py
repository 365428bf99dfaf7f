"""The prosecutor's references of a case, and ``/v1/case-refs``: carpeta fiscal -> centinela case id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api.deps import CaseId, IfMatch, Ix, RefsCaller, ResolveCaller, etag
from services.intake.service import refs

router = APIRouter(tags=["prosecution"])


@router.put(
    "/cases/{case_id}/prosecutor-refs",
    response_model=s.ProsecutorRefsOut,
    summary="set the carpeta fiscal, prosecutor office and court file of a case",
    responses=r.merged(
        {404: r.refusal("no such case, or not yours")},
        r.conflict("this carpeta fiscal already belongs to another case of the office (names body.carpeta_fiscal)"),
    ),
)
def set_prosecutor_refs(
    case_id: CaseId, body: s.ProsecutorRefsIn, response: Response, ix: Ix, caller: RefsCaller, version: IfMatch
) -> s.ProsecutorRefsOut:
    done = refs.set_refs(
        ix,
        caller,
        case_id,
        carpeta_fiscal=body.carpeta_fiscal,
        office=body.office,
        expediente=body.expediente,
        shared_with_systems=body.shared_with_systems,
        if_match=version,
    )
    response.headers["ETag"] = etag(done.case.version)
    return s.ProsecutorRefsOut.model_validate(done.result.model_dump())


@router.get(
    "/case-refs",
    response_model=s.CaseRef,
    summary="centinela's case id for a carpeta fiscal (audited; 404 when unknown or not shared with you)",
    responses={404: r.refusal("no case known for this carpeta and office, or not shared with the caller")},
)
def resolve_case_ref(
    ix: Ix,
    caller: ResolveCaller,
    carpeta_fiscal: Annotated[s.Carpeta, Query(description="e.g. 3306014501-2023-245-0")],
    office: Annotated[s.Office, Query(description="prosecutor office code, e.g. FPETP-LIMA-01")],
) -> s.CaseRef:
    return s.CaseRef(case_id=refs.resolve(ix, caller, carpeta_fiscal=carpeta_fiscal, office=office))
