"""Use cases on case documents: add (encrypted), list (metadata), read (content). Every one audited,
refusals and missing ids too. The case's need-to-know decides (``domain.documents.visible``): out of
scope and unknown answer the same 404."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.intake.domain import documents as d
from services.intake.domain.identity import DOCUMENT, IdentityKeyError
from services.intake.service.core import (
    Caller,
    Conflict,
    Forbidden,
    Intake,
    NotFound,
    Unavailable,
    audit,
    load,
    missing,
)

log = logging.getLogger(__name__)
CHUNK_BYTES = 1024 * 1024  # 1 MiB of content per stored chunk (far under the 16 MB document limit)


@dataclass(frozen=True)
class Shown:
    """A document's metadata with its title and file name in plain (for who may read it)."""

    doc: d.Document
    title: str | None
    filename: str | None


def _label(ix: Intake, doc: d.Document, name: str) -> str | None:
    blob = getattr(doc, name)
    if blob is None:
        return None
    try:
        value = ix.cipher.decrypt_field(doc.case_id, f"{doc.doc_id}.{name}", blob, DOCUMENT)
    except IdentityKeyError as exc:
        log.error("document label not decryptable", extra={"case_id": doc.case_id})
        raise Unavailable("document data cannot be decrypted with the configured keys") from exc
    return str(value)


def shown(ix: Intake, doc: d.Document) -> Shown:
    return Shown(doc=doc, title=_label(ix, doc, "title"), filename=_label(ix, doc, "filename"))


def add(
    ix: Intake,
    caller: Caller,
    case_id: str,
    *,
    category: str,
    title: str | None,
    filename: str | None,
    content: bytes,
    kind: str,
) -> Shown:
    """``content`` is already size- and type-checked by the API (``kind`` from ``documents.sniff``)."""
    action = "document.add"
    case, view = load(ix, caller, case_id, action)
    if not d.may_add(view, category):
        audit(ix, caller, action, case_id, outcome="denied", details={"why": "legal_category", "category": category})
        raise Forbidden("service providers may not add legal documents")
    if ix.files.count(case_id) >= ix.settings.max_documents_per_case:
        raise Conflict(f"a case holds at most {ix.settings.max_documents_per_case} documents")
    doc_id = d.new_doc_id()
    kid, chunks = ix.cipher.encrypt_chunks(case.case_id, doc_id, content, CHUNK_BYTES)

    def seal(name: str, value: str | None) -> dict[str, str] | None:
        return None if value is None else ix.cipher.encrypt_field(case_id, f"{doc_id}.{name}", value, DOCUMENT)

    doc = d.Document(
        doc_id=doc_id,
        case_id=case_id,
        category=category,
        kind=kind,
        size=len(content),
        chunks=len(chunks),
        kid=kid,
        title=seal("title", title),
        filename=seal("filename", filename),
        uploaded_at=datetime.now(UTC),
        uploaded_by=caller.sub,
        uploaded_by_role=caller.principal.role,
        uploaded_by_org=caller.org,
    )
    ix.files.add(doc, chunks)
    audit(ix, caller, action, case_id, details={"doc_id": doc_id, "category": category, "kind": kind, "size": doc.size})
    return Shown(doc=doc, title=title, filename=filename)


def list_documents(ix: Intake, caller: Caller, case_id: str) -> list[Shown]:
    action = "document.list"
    _, view = load(ix, caller, case_id, action)
    docs = [doc for doc in ix.files.of_case(case_id) if d.visible(caller, view, doc)]
    audit(ix, caller, action, case_id, details={"view": view, "doc_ids": [doc.doc_id for doc in docs]})
    return [shown(ix, doc) for doc in docs]


@dataclass(frozen=True)
class Content:
    doc: d.Document
    data: bytes


def read(ix: Intake, caller: Caller, case_id: str, doc_id: str) -> Content:
    """Audited before the content leaves: no record, no bytes."""
    action = "document.read"
    _, view = load(ix, caller, case_id, action)
    doc = ix.files.get(case_id, doc_id)
    if doc is None:
        raise missing(ix, caller, action, case_id, "document")
    if not d.visible(caller, view, doc):
        audit(ix, caller, action, case_id, outcome="denied", details={"why": "out_of_scope", "doc_id": doc_id})
        raise NotFound("document not found")
    try:
        data = ix.cipher.decrypt_keyed_chunks(case_id, doc_id, ix.files.keyed_content(doc))
    except (IdentityKeyError, LookupError) as exc:
        log.error("document not readable", extra={"case_id": case_id, "exc": type(exc).__name__})
        raise Unavailable("the document cannot be read with the configured keys") from exc
    details: dict[str, Any] = {"doc_id": doc_id, "category": doc.category, "view": view}
    audit(ix, caller, action, case_id, details=details)
    return Content(doc=doc, data=data)
