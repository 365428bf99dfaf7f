"""/v1/cases/{case_id}/documents: notes and attachments of a case, encrypted at rest, every read audited.

Upload is ``multipart/form-data``: ``file`` (the content), ``category`` and an optional ``title``. The
type is decided by the file's first bytes, never by its name or declared content type.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Response, UploadFile

from services.intake.api import responses as r
from services.intake.api import schemas as s
from services.intake.api.deps import CaseId, DocumentAddCaller, DocumentReadCaller, Ix
from services.intake.domain import documents as d
from services.intake.service import documents
from services.intake.service.core import IntakeError, Invalid

router = APIRouter(tags=["documents"])
DocId = Annotated[str, Path(pattern=d.DOC_ID_PATTERN, description="document id (dc_...)")]


class TooLarge(IntakeError, status_code=413, reason="too_large"): ...


class UnsupportedType(IntakeError, status_code=415, reason="unsupported_media_type"): ...


def out(item: documents.Shown) -> s.DocumentOut:
    """The stored metadata with the title and file name in plain (the ciphertext never leaves)."""
    doc = item.doc
    shown = {"media_type": doc.media_type, "title": item.title, "filename": item.filename}
    return s.DocumentOut.model_validate({**doc.model_dump(), **shown})


@router.post(
    "/cases/{case_id}/documents",
    status_code=201,
    response_model=s.DocumentOut,
    summary="add a document (multipart: file, category, title); encrypted at rest",
    responses=r.merged(
        r.BREAK_GLASS,
        {
            403: r.refusal("a service provider adding a legal document"),
            404: r.refusal("no such case, or not yours"),
            409: r.refusal("the case holds CENTINELA_MAX_DOCUMENTS_PER_CASE documents already"),
            413: r.refusal("larger than CENTINELA_DOCUMENTS_MAX_BYTES (names body.file)"),
            415: r.refusal("not one of the allowed types, by its first bytes (names body.file)"),
        },
    ),
)
def add_document(
    case_id: CaseId,
    ix: Ix,
    caller: DocumentAddCaller,
    file: Annotated[UploadFile, File(description="pdf, png, jpeg, txt (UTF-8) or docx")],
    category: Annotated[d.Category, Form()],
    title: Annotated[s.DocTitle | None, Form()] = None,
) -> s.DocumentOut:
    limit = ix.settings.documents_max_bytes
    content = file.file.read(limit + 1)
    if len(content) > limit:
        raise TooLarge([{"field": "body.file", "type": "too_large", "msg": f"at most {limit} bytes"}])
    if not content:
        raise Invalid("body.file", "empty", "the file is empty")
    kind = d.sniff(content)
    if kind is None or kind not in ix.settings.documents_allowed_types:
        allowed = ", ".join(ix.settings.documents_allowed_types)
        raise UnsupportedType([{"field": "body.file", "type": "media_type", "msg": f"allowed types: {allowed}"}])
    filename = (file.filename or "").strip()[:200] or None
    added = documents.add(
        ix, caller, case_id, category=category, title=title, filename=filename, content=content, kind=kind
    )
    return out(added)


@router.get(
    "/cases/{case_id}/documents",
    response_model=list[s.DocumentOut],
    summary="list documents (audited)",
    responses=r.merged(r.BREAK_GLASS, {404: r.refusal("no such case, or not yours")}),
)
def list_documents(case_id: CaseId, ix: Ix, caller: DocumentReadCaller) -> list[s.DocumentOut]:
    return [out(item) for item in documents.list_documents(ix, caller, case_id)]


@router.get(
    "/cases/{case_id}/documents/{doc_id}",
    response_class=Response,
    summary="a document's content (audited)",
    responses={
        200: {"content": {t: {} for t in d.MEDIA_TYPES.values()}, "description": "the content"},
        404: r.refusal("no such case or document, or not yours"),
        **r.BREAK_GLASS,
    },
)
def read_document(case_id: CaseId, doc_id: DocId, ix: Ix, caller: DocumentReadCaller) -> Response:
    found = documents.read(ix, caller, case_id, doc_id)
    doc = found.doc
    return Response(
        found.data,
        media_type=doc.media_type,
        headers={
            # the stored file name may carry personal data: the download is named by the id
            "Content-Disposition": f'attachment; filename="{doc.doc_id}.{d.EXTENSIONS[doc.kind]}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
