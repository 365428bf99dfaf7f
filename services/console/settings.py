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
    console_inbox_page_size: int = Field(200, ge=1, le=200, description="alerts per page of the inbox")
    console_totp_key: SecretStr = dev_secret(
        DEV_TOTP_KEY, "AES-256 key (base64 of 32 bytes) that encrypts the users' TOTP secrets at rest"
    )
    console_public_url: str = Field("http://127.0.0.1:8004", description="the console's own URL (links, sign-in)")
    console_oidc_issuer: str = Field(
        "",
        description="issuer URL of an external OpenID Connect provider (its discovery document is read from "
        "{issuer}/.well-known/openid-configuration); empty turns sign-in through a provider off",
    )
    console_oidc_client_id: str = Field("", description="the console's client id at the OpenID Connect provider")
    console_oidc_client_secret: SecretStr = Field(
        SecretStr(""), description="the console's client secret at the provider (empty for a public client)"
    )
    console_oidc_user_claim: str = Field(
        "sub",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="ID token claim whose value an admin links to a console user (email needs email_verified)",
    )
    console_oidc_scopes: str = Field("openid", description="scopes asked of the provider (openid at least)")
    console_oidc_mfa_amr: str = Field(
        "mfa",
        description="comma list of amr values (RFC 8176) that count as the provider having checked a second "
        "factor, so the console asks for no TOTP; empty: the console always asks for its own TOTP",
    )
    console_oidc_name: str = Field(
        "OpenID Connect", max_length=60, description="name of the provider on the sign-in button"
    )

    @model_validator(mode="after")
    def _secure_cookie_default(self) -> ConsoleSettings:
        if self.console_cookie_secure is None:
            self.console_cookie_secure = self.env == "prod"
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> ConsoleSettings:
        if not self.console_oidc_issuer:
            return self
        if not self.console_oidc_client_id:
            raise ValueError("CENTINELA_CONSOLE_OIDC_CLIENT_ID is required with CENTINELA_CONSOLE_OIDC_ISSUER")
        if "openid" not in self.console_oidc_scopes.split():
            raise ValueError("CENTINELA_CONSOLE_OIDC_SCOPES must include openid")
        if self.env == "prod" and not self.console_oidc_issuer.startswith("https://"):
            raise ValueError("CENTINELA_CONSOLE_OIDC_ISSUER must be an https URL in prod")
        return self

    @property
    def cookie_secure(self) -> bool:
        return bool(self.console_cookie_secure)
