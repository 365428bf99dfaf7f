"""Intake settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from services.intake.domain.identity import IdentityKeyError, Keyring
from shared.settings import AES_KEY_BYTES, CommonSettings, _aes_keys_problem, dev_secret

DocKind = Literal["pdf", "png", "jpeg", "txt", "docx"]
DOC_KINDS: tuple[DocKind, ...] = ("pdf", "png", "jpeg", "txt", "docx")


class IntakeSettings(CommonSettings):
    service_name: str = "intake"
    # AES-GCM keys by key id: "kid1:base64key,kid2:base64key"; the active one (the first unless
    # identity_active_key names another) encrypts, all of them and identity_old_keys decrypt.
    identity_keys: SecretStr = dev_secret(
        "dev1:ZGV2LW9ubHktaWRlbnRpdHkta2V5LTMyLWJ5dGVzISE=",
        "AES-256-GCM identity keys, 'kid:base64' comma list; the first encrypts unless "
        "CENTINELA_IDENTITY_ACTIVE_KEY names another, every one decrypts",
    )
    identity_active_key: str = Field(
        "",
        max_length=32,
        description="key id that encrypts new identity, protected case fields and documents (one of "
        "CENTINELA_IDENTITY_KEYS); empty: the first key of that list",
    )
    # Not a dev_secret: empty is its normal value, which the dev-default refusal would reject.
    identity_old_keys: SecretStr = Field(
        SecretStr(""),
        description="retired AES-256 identity keys, 'kid:base64' comma list, that only decrypt; keep each one "
        "until `python -m services.intake rekey` reports nothing left under it",
    )
    person_ref_key: SecretStr = dev_secret("dev-only-person-ref-hmac-key", "HMAC key for person_ref")
    page_size_max: int = Field(200, ge=1, le=1000, description="largest `limit` (page) of GET /v1/cases and /v1/audit")
    max_services_per_case: int = Field(100, ge=1, le=1000, description="services a case may hold (409 above)")
    max_sessions_per_case: int = Field(
        3000, ge=1, le=20000, description="service sessions a case may hold, over all its services (409 above)"
    )
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

    @model_validator(mode="after")
    def _rotation_keys_usable(self) -> IntakeSettings:
        """The rotation settings, checked at start-up and naming the variable, never a key (the plain
        CENTINELA_IDENTITY_KEYS keeps the checks of shared.settings and the app's start-up)."""
        old = self.identity_old_keys.get_secret_value()
        if not old.strip() and not self.identity_active_key:
            return self
        if old.strip() and self.env == "prod":
            problem = _aes_keys_problem(old)
            if problem:
                raise ValueError(
                    f"CENTINELA_IDENTITY_OLD_KEYS {problem}; set a comma list of 'kid:base64' {AES_KEY_BYTES}-byte keys"
                )
        try:
            self.keyring()
        except IdentityKeyError as exc:
            text = str(exc)
            if text.startswith("active"):
                name = "CENTINELA_IDENTITY_ACTIVE_KEY"
            elif text.startswith("old"):
                name = "CENTINELA_IDENTITY_OLD_KEYS"
            elif "twice" in text:
                name = "CENTINELA_IDENTITY_KEYS with CENTINELA_IDENTITY_OLD_KEYS"
            else:
                name = "CENTINELA_IDENTITY_KEYS"
            raise ValueError(f"{name}: {text}") from None
        return self

    def keyring(self) -> Keyring:
        """Every configured identity key, the active one encrypting (raises IdentityKeyError naming a key id)."""
        return Keyring.parse(
            self.identity_keys.get_secret_value(),
            active=self.identity_active_key or None,
            retired=self.identity_old_keys.get_secret_value(),
        )
