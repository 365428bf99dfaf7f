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
from collections.abc import Mapping, Sequence
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
    """AES-256 keys by id. One key encrypts (``active``; the first one when not named); every key decrypts,
    so a new key can take over at once and older values move to it later (``python -m services.intake rekey``)."""

    keys: tuple[tuple[str, bytes], ...]
    active: str | None = None

    @staticmethod
    def _parse_list(spec: str, what: str) -> list[tuple[str, bytes]]:
        keys: list[tuple[str, bytes]] = []
        for i, part in enumerate(p.strip() for p in spec.split(",") if p.strip()):
            kid, sep, b64 = part.partition(":")
            if not sep or not kid or not re.fullmatch(r"[A-Za-z0-9._-]{1,32}", kid):
                raise IdentityKeyError(f"{what} #{i + 1}: expected 'kid:base64key' with a short [A-Za-z0-9._-] id")
            try:
                raw = base64.b64decode(b64, validate=True)
            except (binascii.Error, ValueError):
                raise IdentityKeyError(f"{what} {kid!r}: not valid base64") from None
            if len(raw) != 32:
                raise IdentityKeyError(f"{what} {kid!r}: AES-256 needs 32 bytes, got {len(raw)}")
            keys.append((kid, raw))
        return keys

    @classmethod
    def parse(cls, spec: str, *, active: str | None = None, retired: str = "") -> Keyring:
        """``spec``: the ``kid:base64`` comma list of CENTINELA_IDENTITY_KEYS; ``active``: the key id that
        encrypts (one of ``spec``; empty: its first key); ``retired``: keys that only decrypt
        (CENTINELA_IDENTITY_OLD_KEYS)."""
        keys = cls._parse_list(spec, "identity key")
        if not keys:
            raise IdentityKeyError("no identity key configured")
        listed = [kid for kid, _ in keys]
        old = cls._parse_list(retired, "old identity key")
        seen: set[str] = set()
        for kid, _ in keys + old:
            if kid in seen:
                raise IdentityKeyError(f"identity key id {kid!r} appears twice")
            seen.add(kid)
        if active and active not in listed:
            raise IdentityKeyError(
                f"active identity key id {active!r} is not among the encrypting keys"
                + (" (it is listed as an old key)" if active in seen else "")
            )
        return cls(tuple(keys + old), active or None)

    @property
    def current(self) -> str:
        return self.active or self.keys[0][0]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

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

    def _seal(self, plaintext: bytes, aad: bytes) -> dict[str, str]:
        kid = self.keyring.current
        nonce = os.urandom(NONCE_BYTES)
        ct = AESGCM(self.keyring.key(kid)).encrypt(nonce, plaintext, aad)
        return {"kid": kid, "nonce": base64.b64encode(nonce).decode(), "ct": base64.b64encode(ct).decode()}

    def _open(self, field: str, blob: Mapping[str, str], aad: bytes) -> bytes:
        try:
            key = self.keyring.key(blob["kid"])
            nonce = base64.b64decode(blob["nonce"])
            ct = base64.b64decode(blob["ct"])
            return AESGCM(key).decrypt(nonce, ct, aad)
        except (KeyError, TypeError, binascii.Error, ValueError, InvalidTag) as exc:
            if isinstance(exc, IdentityKeyError):
                raise
            raise IdentityKeyError(f"identity field {field!r} cannot be decrypted ({type(exc).__name__})") from None

    def encrypt_field(self, case_id: str, field: str, value: Any, purpose: str = IDENTITY) -> dict[str, str]:
        """``purpose`` separates what the keys protect (identity; ``CASE_FIELD``: a case's quasi-identifiers
        such as ``place_of_exploitation``), so a ciphertext cannot be moved from one to the other."""
        plaintext = json.dumps(value, separators=(",", ":"), default=str).encode()
        return self._seal(plaintext, self._aad(case_id, field, purpose))

    def decrypt_field(self, case_id: str, field: str, blob: Mapping[str, str], purpose: str = IDENTITY) -> Any:
        return json.loads(self._open(field, blob, self._aad(case_id, field, purpose)))

    def rekey_field(
        self, case_id: str, field: str, blob: Mapping[str, str], purpose: str = IDENTITY
    ) -> dict[str, str] | None:
        """The same plaintext and associated data sealed under the active key; None when ``blob`` already is
        (so a repeated run changes nothing). The plaintext bytes are carried over untouched, never re-encoded."""
        if blob.get("kid") == self.keyring.current:
            return None
        aad = self._aad(case_id, field, purpose)
        return self._seal(self._open(field, blob, aad), aad)

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
        return self.decrypt_keyed_chunks(case_id, doc_id, [(kid, c) for c in chunks])

    def decrypt_keyed_chunks(self, case_id: str, doc_id: str, chunks: Sequence[tuple[str, bytes]]) -> bytes:
        """Chunks each with its own key id: a re-encryption interrupted half-way leaves a document whose
        chunks are under two keys, and it must still read."""
        return b"".join(self._open_chunk(case_id, doc_id, n, len(chunks), kid, c) for n, (kid, c) in enumerate(chunks))

    def _open_chunk(self, case_id: str, doc_id: str, n: int, total: int, kid: str, chunk: bytes) -> bytes:
        aes = AESGCM(self.keyring.key(kid))
        try:
            return aes.decrypt(chunk[:NONCE_BYTES], chunk[NONCE_BYTES:], self._chunk_aad(case_id, doc_id, n, total))
        except (ValueError, InvalidTag):
            raise IdentityKeyError(f"document {doc_id!r} cannot be decrypted") from None

    def rekey_chunk(self, case_id: str, doc_id: str, n: int, total: int, kid: str, chunk: bytes) -> bytes | None:
        """Chunk ``n`` of ``total`` under the active key, same associated data; None when it already is."""
        if kid == self.keyring.current:
            return None
        plain = self._open_chunk(case_id, doc_id, n, total, kid, chunk)
        nonce = os.urandom(NONCE_BYTES)
        aad = self._chunk_aad(case_id, doc_id, n, total)
        return nonce + AESGCM(self.keyring.key(self.keyring.current)).encrypt(nonce, plain, aad)

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
