"""Intake settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import CommonSettings, dev_secret

DocKind = Literal["pdf", "png", "jpeg", "txt", "docx"]
DOC_KINDS: tuple[DocKind, ...] = ("pdf", "png", "jpeg", "txt", "docx")


class IntakeSettings(CommonSettings):
    service_name: str = "intake"
    # AES-GCM keys by key id: "kid1:base64key,kid2:base64key"; the first encrypts, all decrypt.
    identity_keys: SecretStr = dev_secret(
        "dev1:ZGV2LW9ubHktaWRlbnRpdHkta2V5LTMyLWJ5dGVzISE=", "AES-256-GCM identity keys, 'kid:base64' comma list"
    )
    person_ref_key: SecretStr = dev_secret("dev-only-person-ref-hmac-key", "HMAC key for person_ref")
    page_size_max: int = Field(200, ge=1, le=1000, description="largest page of GET /v1/cases and /v1/audit")
    max_services_per_case: int = Field(100, ge=1, le=1000)
    max_sessions_per_case: int = Field(3000, ge=1, le=20000)
    max_items_per_case: int = Field(500, ge=1, le=5000, description="bound for risk flags, follow-ups, referrals")
    documents_max_bytes: int = Field(
        10 * 1024 * 1024,
        ge=1024,
        le=200 * 1024 * 1024,
        description="largest case document (content bytes) POST /v1/cases/{id}/documents accepts (413 above)",
    )
    documents_allowed_types: list[DocKind] = Field(
        default_factory=lambda: list(DOC_KINDS),
        description="document types accepted, recognised by their first bytes (415 for anything else)",
    )
    max_documents_per_case: int = Field(1000, ge=1, le=100_000, description="documents a case may hold")
