"""Case documents at rest: metadata in ``case_documents``, encrypted content in ``case_document_chunks``.

GridFS would do too (SecantusDB serves it); two plain collections keep the chunks encrypted one by one
and let one index serve each query: metadata by ``(case_id, uploaded_at)``, chunks by ``_id``
(``<doc_id>:<n>``). Chunks are written first and the metadata last, so a document is visible only once
its content is complete; a crash in between leaves unreachable chunks (ciphertext only) that nothing
lists or reads.
"""

from __future__ import annotations

from typing import Any

import mongoengine as me
from bson import Binary
from pymongo import ASCENDING
from pymongo.collection import Collection

from services.intake.domain.documents import Document


class CaseFileDocument(me.Document):
    """Declares the collection's indexes; reads and writes go through ``CaseFiles`` (pymongo)."""

    meta = {
        "collection": "case_documents",
        "strict": False,
        "auto_create_index": False,
        "indexes": [{"fields": ["case_id", "uploaded_at"]}],
    }
    doc_id = me.StringField(primary_key=True)
    case_id = me.StringField(required=True)
    uploaded_at = me.DateTimeField(required=True)


class CaseFileChunk(me.Document):
    meta = {"collection": "case_document_chunks", "strict": False, "auto_create_index": False, "indexes": []}
    chunk_id = me.StringField(primary_key=True)  # "<doc_id>:<n>"


def chunk_id(doc_id: str, n: int) -> str:
    return f"{doc_id}:{n}"


class CaseFiles:
    def __init__(self, meta: Collection[Any], chunks: Collection[Any]) -> None:
        self.meta = meta
        self.chunks = chunks

    @classmethod
    def default(cls) -> CaseFiles:
        return cls(CaseFileDocument._get_collection(), CaseFileChunk._get_collection())

    def add(self, doc: Document, chunks: list[bytes]) -> None:
        self.chunks.insert_many(
            [
                {"_id": chunk_id(doc.doc_id, n), "doc_id": doc.doc_id, "n": n, "data": Binary(c)}
                for n, c in enumerate(chunks)
            ]
        )
        record = doc.model_dump()
        record["_id"] = record.pop("doc_id")
        try:
            self.meta.insert_one(record)
        except Exception:
            self.chunks.delete_many({"_id": {"$in": [chunk_id(doc.doc_id, n) for n in range(len(chunks))]}})
            raise

    def count(self, case_id: str) -> int:
        return int(self.meta.count_documents({"case_id": case_id}))

    def of_case(self, case_id: str) -> list[Document]:
        cursor = self.meta.find({"case_id": case_id}).sort([("case_id", ASCENDING), ("uploaded_at", ASCENDING)])
        return [_doc(d) for d in cursor]

    def get(self, case_id: str, doc_id: str) -> Document | None:
        found = self.meta.find_one({"_id": doc_id})
        return _doc(found) if found and found.get("case_id") == case_id else None

    def content(self, doc: Document) -> list[bytes]:
        ids = [chunk_id(doc.doc_id, n) for n in range(doc.chunks)]
        by_id = {c["_id"]: bytes(c["data"]) for c in self.chunks.find({"_id": {"$in": ids}})}
        if len(by_id) != len(ids):
            raise LookupError(f"document {doc.doc_id} is missing chunks")
        return [by_id[i] for i in ids]


def _doc(record: dict[str, Any]) -> Document:
    data = dict(record)
    data["doc_id"] = data.pop("_id")
    return Document.model_validate(data)


def ensure_indexes() -> None:
    CaseFileDocument.ensure_indexes()
