"""Case documents (notes and attachments: prosecutor dispositions, rulings, medical or psychological
reports): categories, the type allow-list checked by magic bytes, and who sees which document.

The content is never trusted by its name or declared type: ``sniff`` reads the first bytes. A docx is a
zip whose directory names ``word/document.xml`` (only the directory is read, nothing is inflated, so a
zip bomb costs nothing). Plain text must be UTF-8 without control characters other than tab, newline,
carriage return and form feed.
"""

from __future__ import annotations

import io
import re
import secrets
import zipfile
from datetime import datetime
from typing import Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict

Category = Literal[
    "prosecutor_disposition",
    "court_ruling",
    "legal_report",
    "legal_other",
    "medical_report",
    "psychological_report",
    "social_report",
    "education_record",
    "note",
    "other",
]
# Legal documents follow the legal data of the case: never shown to service providers.
LEGAL_CATEGORIES: Final = frozenset({"prosecutor_disposition", "court_ruling", "legal_report", "legal_other"})

Kind = Literal["pdf", "png", "jpeg", "txt", "docx"]
MEDIA_TYPES: Final[dict[str, str]] = {
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "txt": "text/plain; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
EXTENSIONS: Final[dict[str, str]] = {"pdf": "pdf", "png": "png", "jpeg": "jpg", "txt": "txt", "docx": "docx"}

DOC_ID_PATTERN: Final = r"^dc_[A-Za-z0-9_-]{16}$"
DOC_ID_RE: Final = re.compile(DOC_ID_PATTERN)
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def new_doc_id() -> str:
    return f"dc_{secrets.token_urlsafe(12)}"


def sniff(content: bytes) -> str | None:
    """The kind of ``content`` by its bytes (a key of ``MEDIA_TYPES``), or None when it is none of them."""
    if content.startswith(b"%PDF-"):
        return "pdf"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if content.startswith(b"PK\x03\x04"):
        return "docx" if _is_docx(content) else None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return None if not text or _TEXT_CONTROL.search(text) else "txt"


def _is_docx(content: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    return "word/document.xml" in names and "[Content_Types].xml" in names


class Document(BaseModel):
    """A document's metadata as stored (title and file name are ciphertext blobs)."""

    model_config = ConfigDict(extra="ignore")

    doc_id: str
    case_id: str
    category: str
    kind: str
    size: int
    chunks: int
    kid: str
    title: dict[str, str] | None = None
    filename: dict[str, str] | None = None
    uploaded_at: datetime
    uploaded_by: str
    uploaded_by_role: str
    uploaded_by_org: str | None = None

    @property
    def legal(self) -> bool:
        return self.category in LEGAL_CATEGORIES

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


class Reader(Protocol):
    @property
    def org(self) -> str | None: ...


def visible(reader: Reader, view: str, doc: Document) -> bool:
    """The case's need-to-know, per document: the full view sees every document; a service provider
    (provider view) sees no legal document, and only what its own organisation added."""
    if view == "full":
        return True
    return not doc.legal and reader.org is not None and doc.uploaded_by_org == reader.org


def may_add(view: str, category: str) -> bool:
    return view == "full" or category not in LEGAL_CATEGORIES
