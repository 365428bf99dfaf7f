"""Case documents: type by magic bytes, who sees what, chunked encryption bound to its place."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from datetime import UTC, datetime

import pytest

from services.intake.domain import documents as d
from services.intake.domain.identity import IdentityCipher, IdentityKeyError, Keyring

CIPHER = IdentityCipher(Keyring.parse("k1:" + base64.b64encode(b"k" * 32).decode()))


def docx(extra: dict[str, bytes] | None = None, word: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        if word:
            z.writestr("word/document.xml", "<w:document/>")
        for name, data in (extra or {}).items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"%PDF-1.7\n...", "pdf"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"\xff\xd8\xff\xe0JFIF", "jpeg"),
        ("Disposición fiscal N.° 12\r\n\tarchivo\f".encode(), "txt"),
        (b"\xef\xbb\xbfwith a BOM", "txt"),
        (docx(), "docx"),
        (docx(word=False), None),
        (b"PK\x03\x04 not really a zip", None),
        (b"MZ\x90\x00 an exe", None),
        (b"text with a \x00 nul", None),
        (b"\xc3\x28 not utf-8", None),
        (b"GIF89a", "txt"),  # printable: plain text by the rules, which is harmless
    ],
)
def test_sniff(content: bytes, kind: str | None) -> None:
    assert d.sniff(content) == kind


def test_visibility_follows_the_case_view() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)

    def doc(category: str, org: str | None) -> d.Document:
        return d.Document(
            doc_id="dc_" + "a" * 16,
            case_id="cs_1",
            category=category,
            kind="pdf",
            size=1,
            chunks=1,
            kid="k1",
            uploaded_at=now,
            uploaded_by="u",
            uploaded_by_role="r",
            uploaded_by_org=org,
        )

    class Reader:
        def __init__(self, org: str | None) -> None:
            self.org = org

    prov = Reader("prov-a")
    assert d.visible(prov, "full", doc("court_ruling", "org-a"))
    assert not d.visible(prov, "provider", doc("court_ruling", "prov-a"))  # never legal
    assert not d.visible(prov, "provider", doc("medical_report", "org-a"))  # not its own
    assert d.visible(prov, "provider", doc("medical_report", "prov-a"))
    assert not d.visible(Reader(None), "provider", doc("note", None))
    assert d.may_add("full", "court_ruling") and not d.may_add("provider", "court_ruling")
    assert d.may_add("provider", "psychological_report")


def test_chunks_round_trip_and_are_bound_to_case_document_and_order() -> None:
    data = os.urandom(2500)
    kid, chunks = CIPHER.encrypt_chunks("cs_1", "dc_1", data, 1000)
    assert kid == "k1" and len(chunks) == 3 and all(data[:50] not in c for c in chunks)
    assert CIPHER.decrypt_chunks("cs_1", "dc_1", kid, chunks) == data
    for case_id, doc_id, parts in (
        ("cs_2", "dc_1", chunks),
        ("cs_1", "dc_2", chunks),
        ("cs_1", "dc_1", [chunks[1], chunks[0], chunks[2]]),
        ("cs_1", "dc_1", chunks[:2]),
    ):
        with pytest.raises(IdentityKeyError):
            CIPHER.decrypt_chunks(case_id, doc_id, kid, parts)
