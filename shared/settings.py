"""Settings: one pydantic-settings object per service, all read from ``CENTINELA_*`` variables.

Secrets carry a dev default so that ``make up`` works out of the box; outside ``env=dev`` a
secret still at its dev default is refused at start-up, naming the variable to set.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"


def dev_secret(default: str, description: str) -> Any:
    """A secret field whose default is only acceptable in dev mode."""
    return Field(default=SecretStr(default), description=description, json_schema_extra={"dev_secret": True})


class CommonSettings(BaseSettings):
    """What every centinela process needs. Subclass per service; add service fields there."""

    model_config = SettingsConfigDict(env_prefix="CENTINELA_", extra="ignore", env_file=None)

    service_name: str = "centinela"
    env: Literal["dev", "test", "prod"] = Field("dev", description="dev allows the built-in dev secrets")
    log_level: str = "INFO"
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="comma-separated host:port list")
    topic_prefix: str = Field("", description="prepended to every topic name (isolates test runs, tenants)")
    partitions: int = Field(6, ge=1, le=1000, description="partition count shared by every case topic")
    replication_factor: int = Field(1, ge=1, le=7)
    mongo_uri: str = "mongodb://127.0.0.1:27017/"
    mongo_db: str = Field("", description="database name; empty means centinela_<service>")
    mongo_timeout_ms: int = Field(
        2000,
        ge=100,
        le=60000,
        description="how long to wait for a reachable MongoDB server (selection and connect) before a request "
        "answers 503 storage unavailable",
    )
    retry_after_seconds: int = Field(5, ge=1, le=3600, description="Retry-After of a 503 while storage is down")
    jwt_secret: SecretStr = dev_secret(DEV_JWT_SECRET, "HMAC key for HS256 bearer tokens")
    jwt_public_key: str = Field("", description="PEM public key; when set, tokens are verified with RS256/ES256")
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["HS256"])
    jwt_issuer: str = "centinela"
    jwt_audience: str = "centinela"
    max_body_bytes: int = Field(1_000_000, ge=1024, description="requests larger than this get 413")
    outbox_enabled: bool = Field(True, description="run the outbox relay in this process (false: only write)")
    outbox_poll_seconds: float = Field(0.5, gt=0, le=300, description="relay poll interval when not notified")
    outbox_idle_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=300,
        description="longest relay poll interval after idle passes (backoff from outbox_poll_seconds; a write "
        "in this process wakes the relay at once, other processes' writes wait at most this long)",
    )
    outbox_lease_seconds: float = Field(10.0, gt=0, le=600, description="relay lease; a dead relay's is taken over")

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> CommonSettings:
        if self.env == "dev":
            return self
        for name, field in type(self).model_fields.items():
            extra = field.json_schema_extra
            if isinstance(extra, dict) and extra.get("dev_secret"):
                value = getattr(self, name)
                default = field.default
                if isinstance(value, SecretStr) and isinstance(default, SecretStr):
                    if value.get_secret_value() == default.get_secret_value():
                        raise ValueError(
                            f"CENTINELA_{name.upper()} is still the dev default; set a real secret (env={self.env})"
                        )
        return self

    @property
    def database(self) -> str:
        return self.mongo_db or f"centinela_{self.service_name}"

    def topic(self, name: str) -> str:
        """Physical name of a catalogue topic (prefix applied)."""
        return f"{self.topic_prefix}{name}"
