"""Case documents at rest: metadata in ``case_documents``, encrypted content in ``case_document_chunks``.

GridFS would do too (SecantusDB serves it); two plain collections keep the chunks encrypted one by one
and let one index serve each query: metadata by ``(case_id, uploaded_at)``, chunks by ``_id``
(``<doc_id>:<n>``). Chunks are written first and the metadata last, so a document is visible only once
its content is complete; a crash in between leaves unreachable chunks (ciphertext only) that nothing
lists or reads.
"""

from __future__ import annotations

from collections.abc import Iterator
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


KEYS_PROJECTION: dict[str, Any] = {"_id": 1, "case_id": 1, "kid": 1, "chunks": 1, "title": 1, "filename": 1}


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
        """The chunks' ciphertext only; prefer ``keyed_content`` (a chunk may be under another key)."""
        return [data for _, data in self.keyed_content(doc)]

    def keyed_content(self, doc: Document) -> list[tuple[str, bytes]]:
        """Each chunk with its key id: its own once re-encrypted (``rekey``), else the document's."""
        ids = [chunk_id(doc.doc_id, n) for n in range(doc.chunks)]
        by_id = {
            c["_id"]: (str(c.get("kid") or doc.kid), bytes(c["data"])) for c in self.chunks.find({"_id": {"$in": ids}})
        }
        if len(by_id) != len(ids):
            raise LookupError(f"document {doc.doc_id} is missing chunks")
        return [by_id[i] for i in ids]

    # Key rotation (``service.rekey``). A document's ``kid`` moves to the active key only after every one of
    # its chunks has (each chunk write carries its own ``kid``), so a document whose ``kid`` is the active
    # key has nothing left under an older one, and an interrupted run still reads and resumes.

    def keys_all(self, batch: int) -> Iterator[dict[str, Any]]:
        """Every document's ids, key ids and encrypted title and file name, in one pass (one collection scan
        per run: see ``CaseRepository.encrypted_all``)."""
        return iter(self.meta.find({}, KEYS_PROJECTION, batch_size=batch))

    def keys_one(self, doc_id: str) -> dict[str, Any] | None:
        return self.meta.find_one({"_id": doc_id}, KEYS_PROJECTION)

    def chunk_records(self, doc_id: str, total: int) -> list[dict[str, Any]]:
        ids = [chunk_id(doc_id, n) for n in range(total)]
        found = {c["_id"]: c for c in self.chunks.find({"_id": {"$in": ids}})}
        return [found[i] for i in ids if i in found]

    def replace_chunk(self, doc_id: str, n: int, kid: str, data: bytes) -> None:
        self.chunks.update_one({"_id": chunk_id(doc_id, n)}, {"$set": {"kid": kid, "data": Binary(data)}})

    def replace_keys(self, doc_id: str, changes: dict[str, Any]) -> bool:
        """Set ``changes`` (``kid``, ``title``, ``filename``). Only the rotation writes a document after its
        upload, and two runs write equally valid values, so no compare-and-set (a filter on ``_id`` alone is
        the only one SecantusDB serves from the ``_id`` index)."""
        return self.meta.update_one({"_id": doc_id}, {"$set": changes}).matched_count == 1


def _doc(record: dict[str, Any]) -> Document:
    data = dict(record)
    data["doc_id"] = data.pop("_id")
    return Document.model_validate(data)


def ensure_indexes() -> None:
    CaseFileDocument.ensure_indexes()
