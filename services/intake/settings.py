"""Intake settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from pydantic import SecretStr

from shared.settings import CommonSettings, dev_secret


class IntakeSettings(CommonSettings):
    service_name: str = "intake"
    # AES-GCM keys by key id: "kid1:base64key,kid2:base64key"; the first encrypts, all decrypt.
    identity_keys: SecretStr = dev_secret(
        "dev1:ZGV2LW9ubHktaWRlbnRpdHkta2V5LTMyLWJ5dGVzISE=", "AES-256-GCM identity keys, 'kid:base64' comma list"
    )
    person_ref_key: SecretStr = dev_secret("dev-only-person-ref-hmac-key", "HMAC key for person_ref")
