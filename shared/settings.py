"""Settings: one pydantic-settings object per service, all read from ``CENTINELA_*`` variables.

Secrets carry a dev default so that ``make up`` works out of the box; outside ``env=dev`` a
secret still at its dev default is refused at start-up, naming the variable to set. With
``env=prod`` every secret is also checked for strength (:func:`secret_problems`): HMAC keys (the
JWT secret, the person_ref key) need at least :data:`SECRET_MIN_BYTES` bytes, AES identity keys
exactly 32 bytes that are not all zero, and a JWT public key must not be paired with an HS*
algorithm. Every settings class is built in its process's start-up (the services' ``build_app``,
the processor's ``app.py``), so the check runs in every process before it serves anything.

Errors name the variable and never echo its value or any part of it: pydantic normally prints the
start and the tail of the input in a validation error, which ``hide_input_in_errors`` turns off.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.durations import DurationError, parse_duration

DEV_JWT_SECRET = "dev-only-jwt-secret-change-me-0123456789abcdef"

# 32 bytes = 256 bits, the output size of the SHA-256 in HS256 / HMAC-SHA256: a shorter key is the
# weakest link (RFC 7518 section 3.2 asks for a key at least as long as the hash output).
SECRET_MIN_BYTES = 32
AES_KEY_BYTES = 32

SecretKind = Literal["hmac_key", "aes_keys"]

# Secrets declared before ``dev_secret`` took a kind: their kind by field name.
_KIND_BY_NAME: dict[str, SecretKind] = {"identity_keys": "aes_keys"}


def dev_secret(default: str, description: str, *, kind: SecretKind = "hmac_key") -> Any:
    """A secret field whose default is only acceptable in dev mode.

    ``kind`` says how ``env=prod`` checks its strength: ``hmac_key`` (at least ``SECRET_MIN_BYTES``
    bytes) or ``aes_keys`` (a ``kid:base64`` comma list of 32-byte keys, none all zero).
    """
    return Field(
        default=SecretStr(default),
        description=description,
        json_schema_extra={"dev_secret": True, "secret_kind": kind},
    )


def _hmac_key_problem(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value.encode()) < SECRET_MIN_BYTES:
        return f"is shorter than {SECRET_MIN_BYTES} bytes"
    return None


def _aes_keys_problem(value: str) -> str | None:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        return "is empty"
    for i, part in enumerate(parts, start=1):
        kid, sep, b64 = part.partition(":")
        if not sep or not kid:
            return f"key #{i} is not written as 'kid:base64key'"
        try:
            raw = base64.b64decode(b64.strip(), validate=True)
        except (binascii.Error, ValueError):
            return f"key #{i} is not valid base64"
        if len(raw) != AES_KEY_BYTES:
            return f"key #{i} is not {AES_KEY_BYTES} bytes (AES-256)"
        if not any(raw):
            return f"key #{i} is all zero bytes"
    return None


def secret_kind(name: str, extra: object) -> SecretKind | None:
    """The strength rule of field ``name`` (``None``: not a checked secret)."""
    if not isinstance(extra, dict) or not extra.get("dev_secret"):
        return None
    if name in _KIND_BY_NAME:
        return _KIND_BY_NAME[name]
    kind = extra.get("secret_kind", "hmac_key")
    return "aes_keys" if kind == "aes_keys" else "hmac_key"


def secret_problems(settings: CommonSettings) -> list[str]:
    """What ``env=prod`` refuses, one sentence per problem, naming the variable and never its value."""
    problems: list[str] = []
    for name, field in type(settings).model_fields.items():
        kind = secret_kind(name, field.json_schema_extra)
        value = getattr(settings, name)
        if kind is None or not isinstance(value, SecretStr):
            continue
        check = _aes_keys_problem if kind == "aes_keys" else _hmac_key_problem
        problem = check(value.get_secret_value())
        if problem:
            hint = (
                f"a comma list of 'kid:base64' {AES_KEY_BYTES}-byte keys"
                if kind == "aes_keys"
                else f"at least {SECRET_MIN_BYTES} random bytes"
            )
            problems.append(f"CENTINELA_{name.upper()} {problem}; set {hint}")
    if settings.jwt_public_key.strip():
        hmac_algs = [a for a in settings.jwt_algorithms if a.upper().startswith("HS")]
        if hmac_algs:
            problems.append(
                "CENTINELA_JWT_PUBLIC_KEY is set but CENTINELA_JWT_ALGORITHMS still allows "
                f"{', '.join(hmac_algs)}; set CENTINELA_JWT_ALGORITHMS to the key's algorithm, "
                "e.g. '[\"RS256\"]' or '[\"ES256\"]'"
            )
    return problems


class CommonSettings(BaseSettings):
    """What every centinela process needs. Subclass per service; add service fields there."""

    # hide_input_in_errors: a validation error must never print a secret (pydantic shows the
    # input's start and tail otherwise, e.g. the end of CENTINELA_JWT_SECRET).
    model_config = SettingsConfigDict(env_prefix="CENTINELA_", extra="ignore", env_file=None, hide_input_in_errors=True)

    service_name: str = Field("centinela", description="names metrics (centinela_<service>_…) and the default database")
    env: Literal["dev", "test", "prod"] = Field(
        "dev",
        description="dev allows the built-in dev secrets; test refuses them; prod also refuses weak secrets "
        "(HMAC keys under 32 bytes, AES keys not 32 bytes or all zero, a public key with an HS* algorithm)",
    )
    log_level: str = Field("INFO", description="JSON log level")
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="comma-separated host:port list")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="how every Kafka client talks to the brokers; production: SASL_SSL (SCRAM over TLS) or SSL "
        "(mutual TLS); PLAINTEXT only on a private dev network",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*; PLAIN only over SASL_SSL"
    )
    kafka_sasl_username: str = Field("", description="SASL user of this service (one per service, for broker ACLs)")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password of that user")
    kafka_ssl_cafile: str = Field("", description="PEM file of the CA that signed the brokers' certificates")
    kafka_ssl_certfile: str = Field("", description="PEM client certificate (mutual TLS); empty: none")
    kafka_ssl_keyfile: str = Field("", description="PEM private key of the client certificate")
    kafka_ssl_key_password: SecretStr = Field(SecretStr(""), description="password of that key, if encrypted")
    kafka_ssl_check_hostname: bool = Field(
        True, description="verify that the broker's certificate names the host connected to (keep on)"
    )
    topic_prefix: str = Field("", description="prepended to every topic name (isolates test runs, tenants)")
    partitions: int = Field(6, ge=1, le=1000, description="partition count shared by every case topic")
    replication_factor: int = Field(
        1, ge=1, le=7, description="replication factor of created topics (3 on a real cluster)"
    )
    # repr=False: the URI carries the database password in production (mongodb://user:pass@.../?tls=true)
    mongo_uri: str = Field(
        "mongodb://127.0.0.1:27017/",
        repr=False,
        description="MongoDB connection string; production: a replica set with credentials and TLS, e.g. "
        "mongodb://centinela-intake:<password>@db1,db2,db3/?replicaSet=rs0&tls=true&tlsCAFile=/etc/centinela/ca.pem"
        "&authSource=admin",
    )
    mongo_db: str = Field("", description="database name; empty means centinela_<service>")
    # repr=False: like mongo_uri, it may carry a password
    audit_mongo_uri: str = Field(
        "",
        repr=False,
        description="MongoDB connection string of the shared audit trail; empty: the service's own "
        "(CENTINELA_MONGO_URI)",
    )
    audit_db: str = Field(
        "",
        description="database of the shared audit trail (collection `audit`) that intake, legal and alerts all write "
        "and GET /v1/audit on intake reads; empty: intake's database (centinela_intake, or <x>_intake when "
        "CENTINELA_MONGO_DB is <x>_<service>)",
    )
    mongo_timeout_ms: int = Field(
        2000,
        ge=100,
        le=60000,
        description="how long to wait for a reachable MongoDB server (selection and connect) before a request "
        "answers 503 storage unavailable",
    )
    retry_after_seconds: int = Field(5, ge=1, le=3600, description="Retry-After of a 503 while storage is down")
    jwt_secret: SecretStr = dev_secret(
        DEV_JWT_SECRET, "HMAC key for HS256 bearer tokens (also keys the alerts' page cursors); prod: >= 32 bytes"
    )
    jwt_public_key: str = Field("", description="PEM public key; when set, tokens are verified with RS256/ES256")
    jwt_algorithms: list[str] = Field(
        default_factory=lambda: ["HS256"], description="accepted token algorithms (JSON list)"
    )
    jwt_issuer: str = Field("centinela", description="required iss claim")
    jwt_audience: str = Field("centinela", description="required aud claim")
    jwt_max_lifetime: str = Field(
        "12h",
        description="longest token life accepted (exp - iat), a duration such as 12h or 30min; a token minted "
        "for longer is refused with 401 (and `python -m shared.auth mint` refuses to mint it)",
    )
    jwt_leeway_seconds: int = Field(
        60, ge=0, le=600, description="clock skew allowed between the token issuer and this host (exp, nbf, iat)"
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, description="requests larger than this get 413")
    outbox_enabled: bool = Field(True, description="run the outbox relay in this process (false: only write)")
    outbox_poll_seconds: float = Field(0.5, gt=0, le=300, description="relay poll interval when not notified")
    outbox_idle_poll_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="longest wait between the idle relay's probes for pending entries (one indexed lookup each, "
        "backoff from outbox_poll_seconds); a write in this process wakes the relay at once, a write by a process "
        "without a running relay waits at most this long",
    )
    outbox_lease_seconds: float = Field(10.0, gt=0, le=600, description="relay lease; a dead relay's is taken over")

    rate_limit_enabled: bool = Field(
        True, description="per-caller token bucket on the write routes of CENTINELA_RATE_LIMIT_ROUTES (429 beyond it)"
    )
    rate_limit_per_second: float = Field(
        50.0, gt=0, le=100_000, description="sustained writes a second allowed per caller (token sub), per process"
    )
    rate_limit_burst: int = Field(
        200, ge=1, le=1_000_000, description="writes a caller may send at once before the rate applies"
    )
    rate_limit_routes: list[str] = Field(
        default_factory=lambda: ["POST /v1/cases", "POST /v1/court-updates"],
        description="limited routes, 'METHOD /path' (JSON list); {param} or * is one path segment; a service "
        "limits the ones it serves",
    )
    rate_limit_max_principals: int = Field(
        10_000, ge=1, description="callers whose buckets are kept per process (least recently seen dropped first)"
    )

    @field_validator("rate_limit_routes")
    @classmethod
    def _routes_are_patterns(cls, value: list[str]) -> list[str]:
        from shared.ratelimit import parse_rule

        for text in value:
            if text.strip():
                parse_rule(text)
        return value

    @field_validator("jwt_max_lifetime")
    @classmethod
    def _lifetime_is_a_duration(cls, value: str) -> str:
        try:
            lifetime = parse_duration(value, where="CENTINELA_JWT_MAX_LIFETIME")
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        if lifetime.total_seconds() < 1:
            raise ValueError("CENTINELA_JWT_MAX_LIFETIME must be at least 1s")
        return value

    @model_validator(mode="after")
    def _kafka_auth_is_complete(self) -> CommonSettings:
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [
                name
                for name, value in (
                    ("CENTINELA_KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                    ("CENTINELA_KAFKA_SASL_PASSWORD", self.kafka_sasl_password.get_secret_value()),
                )
                if not value
            ]
            if missing:
                raise ValueError(
                    f"CENTINELA_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs {' and '.join(missing)}"
                )
            if self.kafka_security_protocol == "SASL_PLAINTEXT" and self.kafka_sasl_mechanism == "PLAIN":
                if self.env == "prod":
                    raise ValueError(
                        "CENTINELA_KAFKA_SASL_MECHANISM=PLAIN over SASL_PLAINTEXT sends the password in clear; "
                        "use SASL_SSL or a SCRAM mechanism"
                    )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("CENTINELA_KAFKA_SSL_CERTFILE and CENTINELA_KAFKA_SSL_KEYFILE go together")
        return self

    @property
    def jwt_max_lifetime_seconds(self) -> float:
        return parse_duration(self.jwt_max_lifetime, where="CENTINELA_JWT_MAX_LIFETIME").total_seconds()

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
        if self.env == "prod":
            problems = secret_problems(self)
            if problems:
                raise ValueError("refusing to start with weak secrets (env=prod): " + " | ".join(problems))
        return self

    @property
    def database(self) -> str:
        return self.mongo_db or f"centinela_{self.service_name}"

    def topic(self, name: str) -> str:
        """Physical name of a catalogue topic (prefix applied)."""
        return f"{self.topic_prefix}{name}"


#: the alert policy the processor and the alerts service read (shipped beside the processor's rules)
DEFAULT_POLICY_FILE = "services/processor/policy.yaml"


class PolicySettings(CommonSettings):
    """A process that reads the alert policy file: the processor and the alerts service."""

    policy_file: str = Field(
        DEFAULT_POLICY_FILE,
        description="alert policy YAML (rule thresholds, escalation times) of the processor and the alerts "
        "service; rules it does not name keep the shipped defaults; relative paths are tried from the working "
        "directory, then the project root; the alerts service refuses to start when it is missing or invalid "
        "and uses its `escalation` section",
    )
