"""Identity protection: field-by-field AES-256-GCM and the pseudonymous ``person_ref``.

Nothing here logs or raises with a value: error messages name the field or key id only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PERSON_REF_VERSION = "v1"
IDENTITY = "identity"  # associated-data purpose of identity fields (the original, unchanged)
CASE_FIELD = "case"  # ... of a case's free-text quasi-identifiers (place_of_exploitation)
DOCUMENT = "document"  # ... of case documents: their content chunks, title and file name
NONCE_BYTES = 12


class IdentityKeyError(ValueError):
    """Bad key configuration or a ciphertext no configured key can open (never carries a value)."""


@dataclass(frozen=True)
class Keyring:
    """AES-256 keys by id. The first key encrypts; every key decrypts, so keys rotate without re-encrypting."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        keys: list[tuple[str, bytes]] = []
        for i, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, b64 = part.partition(":")
            if not sep or not kid or not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", kid):
                raise IdentityKeyError(
                    f"identity key #{i + 1}: expected 'kid:base64key' with a short [A-Za-z0-9._-] id"
                )
            try:
                raw = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise IdentityKeyError(f"identity key {kid!r}: not valid base64") from None
            if len(raw) != 32:
                raise IdentityKeyError(f"identity key {kid!r}: AES-256 needs 32 bytes, got {len(raw)}")
            if any(k == kid for k, _ in keys):
                raise IdentityKeyError(f"identity key id {kid!r} appears twice")
            keys.append((kid, raw))
        if not keys:
            raise IdentityKeyError("no identity key configured")
        return cls(tuple(keys))

    @property
    def current(self) -> str:
        return self.keys[0][0]

    def key(self, kid: str) -> bytes:
        for k, raw in self.keys:
            if k == kid:
                return raw
        raise IdentityKeyError(f"identity key id {kid!r} is not configured")


class IdentityCipher:
    """Encrypts each identity field separately; the case id and field name are bound as associated data,
    so a ciphertext copied to another case or another field does not decrypt."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring

    @staticmethod
    def _aad(case_id: str, field: str, purpose: str = IDENTITY) -> bytes:
        return f"centinela/intake/{purpose}|{case_id}|{field}".encode()

    def encrypt_field(self, case_id: str, field: str, value: Any, purpose: str = IDENTITY) -> dict[str, str]:
        """``purpose`` separates what the keys protect (identity; ``CASE_FIELD``: a case's quasi-identifiers
        such as ``place_of_exploitation``), so a ciphertext cannot be moved from one to the other."""
        kid = self.keyring.current
        nonce = os.urandom(12)
        plaintext = json.dumps(value, separators=(",", ":"), default=str).encode()
        ct = AESGCM(self.keyring.key(kid)).encrypt(nonce, plaintext, self._aad(case_id, field, purpose))
        return {"kid": kid, "nonce": base64.b64encode(nonce).decode(), "ct": base64.b64encode(ct).decode()}

    def decrypt_field(self, case_id: str, field: str, blob: Mapping[str, str], purpose: str = IDENTITY) -> Any:
        try:
            key = self.keyring.key(blob["kid"])
            nonce = base64.b64decode(blob["nonce"])
            ct = base64.b64decode(blob["ct"])
            plaintext = AESGCM(key).decrypt(nonce, ct, self._aad(case_id, field, purpose))
        except (KeyError, binascii.Error, ValueError, InvalidTag) as exc:
            if isinstance(exc, IdentityKeyError):
                raise
            raise IdentityKeyError(f"identity field {field!r} cannot be decrypted ({type(exc).__name__})") from None
        return json.loads(plaintext)

    def encrypt(self, case_id: str, identity: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """Encrypt every non-empty field of a plain identity mapping."""
        return {
            name: self.encrypt_field(case_id, name, value)
            for name, value in identity.items()
            if value is not None and value != [] and value != ""
        }

    def decrypt(self, case_id: str, encrypted: Mapping[str, Mapping[str, str]]) -> dict[str, Any]:
        return {name: self.decrypt_field(case_id, name, blob) for name, blob in encrypted.items()}

    @staticmethod
    def _chunk_aad(case_id: str, doc_id: str, n: int, total: int) -> bytes:
        # index and count bound in: chunks cannot be reordered, dropped, or moved to another document
        return f"centinela/intake/{DOCUMENT}|{case_id}|{doc_id}|{n}|{total}".encode()

    def encrypt_chunks(self, case_id: str, doc_id: str, data: bytes, chunk_bytes: int) -> tuple[str, list[bytes]]:
        """A document's content as AES-GCM chunks (nonce + ciphertext each) under the current key id."""
        kid = self.keyring.current
        aes = AESGCM(self.keyring.key(kid))
        pieces = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)] or [b""]
        out = []
        for n, piece in enumerate(pieces):
            nonce = os.urandom(NONCE_BYTES)
            out.append(nonce + aes.encrypt(nonce, piece, self._chunk_aad(case_id, doc_id, n, len(pieces))))
        return kid, out

    def decrypt_chunks(self, case_id: str, doc_id: str, kid: str, chunks: list[bytes]) -> bytes:
        aes = AESGCM(self.keyring.key(kid))
        try:
            return b"".join(
                aes.decrypt(c[:NONCE_BYTES], c[NONCE_BYTES:], self._chunk_aad(case_id, doc_id, n, len(chunks)))
                for n, c in enumerate(chunks)
            )
        except (ValueError, InvalidTag):
            raise IdentityKeyError(f"document {doc_id!r} cannot be decrypted") from None

    def needs_rotation(self, encrypted: Mapping[str, Mapping[str, str]]) -> bool:
        return any(blob.get("kid") != self.keyring.current for blob in encrypted.values())


_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_name(value: str) -> str:
    """Casefold, strip accents (María -> maria, Ñ -> n), treat punctuation as space, collapse spaces."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_ALNUM.sub(" ", stripped).split())


def normalise_document(value: str) -> str:
    """Document numbers compare without separators or case: '12.345.678-k' == '12345678K'."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return _NON_ALNUM.sub("", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def person_ref(
    key: bytes,
    *,
    given_names: str | None,
    family_names: str | None,
    birth_date: date | None,
    document_number: str | None = None,
) -> str | None:
    """Keyed hash of the normalised identity; None when there is too little to identify a person
    (a name and a birth date are both needed, so two anonymous registrations are never linked)."""
    full_name = normalise_name(f"{given_names or ''} {family_names or ''}")
    if not full_name or birth_date is None:
        return None
    parts = [PERSON_REF_VERSION, full_name, birth_date.isoformat()]
    doc = normalise_document(document_number) if document_number else ""
    if doc:
        parts.append(doc)
    digest = hmac.new(key, "|".join(parts).encode(), hashlib.sha256).hexdigest()
    return f"pr_{digest}"
