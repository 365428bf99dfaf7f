"""Console settings (``CENTINELA_*`` variables besides the common ones)."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from shared.settings import CommonSettings, dev_secret

# 32 bytes, base64; refused outside env=dev
DEV_TOTP_KEY = "ZGV2LW9ubHktY29uc29sZS10b3RwLWtleS0zMmJ5dGU="


class ConsoleSettings(CommonSettings):
    service_name: str = "console"
    # documents up to the intake's 10 MiB pass through the console's forms
    max_body_bytes: int = Field(11_000_000, ge=1024, description="requests larger than this get 413")

    console_intake_url: str = Field("http://127.0.0.1:8001", description="base URL of the intake API")
    console_legal_url: str = Field("http://127.0.0.1:8002", description="base URL of the legal API")
    console_alerts_url: str = Field("http://127.0.0.1:8003", description="base URL of the alerts API")
    console_reports_url: str = Field("http://127.0.0.1:8005", description="base URL of the reports API")
    console_api_timeout_seconds: float = Field(10.0, gt=0, le=120, description="per call to an API")
    console_token_ttl_seconds: int = Field(
        300, ge=30, le=3600, description="life of the bearer token minted per user for one API call"
    )
    console_cookie_secure: bool | None = Field(
        None, description="Secure flag of the session cookie; unset means on in prod, off in dev/test"
    )
    console_session_idle_minutes: float = Field(30, gt=0, le=24 * 60, description="sign-out after this idle time")
    console_session_absolute_hours: float = Field(12, gt=0, le=24 * 7, description="sign-out after this, always")
    console_lockout_threshold: int = Field(5, ge=1, le=100, description="failed sign-ins before the account locks")
    console_lockout_minutes: float = Field(15, gt=0, le=24 * 60, description="how long a locked account stays locked")
    console_invite_hours: float = Field(72, gt=0, le=24 * 30, description="life of an invitation / reset link")
    console_time_zone: str = Field("America/Lima", description="time zone in which dates are shown")
    console_default_language: str = Field("es", pattern=r"^(es|en)$", description="language without a preference")
    console_legal_source_system: str = Field(
        "",
        description="source_system put in the legal events people record; empty leaves it out and the legal "
        "service fills in its own namespace for person-recorded updates",
    )
    console_live_poll_seconds: float = Field(
        30, gt=0, le=600, description="the inbox re-reads itself this often even without the live stream"
    )
    console_totp_key: SecretStr = dev_secret(
        DEV_TOTP_KEY, "AES-256 key (base64 of 32 bytes) that encrypts the users' TOTP secrets at rest"
    )
    console_public_url: str = Field("http://127.0.0.1:8004", description="the console's own URL (links, sign-in)")

    @model_validator(mode="after")
    def _secure_cookie_default(self) -> ConsoleSettings:
        if self.console_cookie_secure is None:
            self.console_cookie_secure = self.env == "prod"
        return self

    @property
    def cookie_secure(self) -> bool:
        return bool(self.console_cookie_secure)
