"""Authentication and need-to-know: OAuth2 bearer JWTs, the roles of DESIGN.md as scopes.

    python -m shared.auth mint --role legal_advocate --sub adv-7 --org org-1 [--ttl 3600]
    python -m shared.auth mint --role court_integrator --sub fiscalia-lima --source-system sgf

Token claims: ``sub``, ``scope`` (space-separated roles), ``org``, optional ``source_system``
(court integrators), ``iss``, ``aud``, ``iat``, ``exp``, optional ``nbf``.

What a token must satisfy (each refusal is a 401 with its own reason in ``detail`` and in
``WWW-Authenticate: Bearer error="invalid_token", error_description="..."``; the token itself is
never echoed): a signature by the configured key and algorithm, the configured issuer and
audience, ``sub``, ``iat`` and ``exp`` present, a non-empty ``sub``, ``iat`` and ``nbf`` not in
the future beyond ``CENTINELA_JWT_LEEWAY_SECONDS``, not expired, and a life ``exp - iat`` no
longer than ``CENTINELA_JWT_MAX_LIFETIME`` (default 12h): a stolen long-lived token is the
worst case for an API that serves children's cases.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.durations import DurationError, format_duration, parse_duration
from shared.settings import CommonSettings

ROLES = (
    "intake_officer",
    "service_provider",
    "legal_advocate",
    "supervisor",
    "court_integrator",
    "ops_viewer",
    "admin",
)


@dataclass(frozen=True)
class Principal:
    sub: str
    roles: frozenset[str]
    org: str | None = None
    source_system: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def role(self) -> str:
        """The principal's primary role (for audit records): the first of ROLES it holds."""
        for r in ROLES:
            if r in self.roles:
                return r
        return "unknown"


class AuthError(Exception):
    """A token refused; ``reason`` is a stable code (for tests, metrics, logs), ``str()`` the sentence."""

    def __init__(self, message: str, reason: str = "invalid") -> None:
        super().__init__(message)
        self.reason = reason


def _lifetime_text(settings: CommonSettings) -> str:
    return format_duration(parse_duration(settings.jwt_max_lifetime, where="CENTINELA_JWT_MAX_LIFETIME"))


def mint(
    settings: CommonSettings,
    *,
    sub: str,
    roles: list[str],
    org: str | None = None,
    source_system: str | None = None,
    ttl: int = 3600,
    private_key: str | None = None,
    algorithm: str | None = None,
) -> str:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise AuthError(f"unknown role(s) {unknown}; known: {', '.join(ROLES)}", "unknown_role")
    if not sub.strip():
        raise AuthError("a token needs a non-empty subject (sub)", "empty_subject")
    if ttl > settings.jwt_max_lifetime_seconds:
        raise AuthError(
            f"ttl {ttl}s is longer than CENTINELA_JWT_MAX_LIFETIME ({_lifetime_text(settings)})", "lifetime_too_long"
        )
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": sub,
        "scope": " ".join(roles),
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
    }
    if org:
        claims["org"] = org
    if source_system:
        claims["source_system"] = source_system
    key = private_key or settings.jwt_secret.get_secret_value()
    return jwt.encode(claims, key, algorithm=algorithm or settings.jwt_algorithms[0])


# PyJWT's errors and the sentence each becomes; the class name stays in it so logs and old
# clients that matched on it keep working.
_PYJWT_REASONS: tuple[tuple[type[jwt.InvalidTokenError], str, str], ...] = (
    (jwt.InvalidSignatureError, "bad_signature", "invalid token: signature does not verify (InvalidSignatureError)"),
    (jwt.InvalidAudienceError, "wrong_audience", "invalid token: wrong audience (InvalidAudienceError)"),
    (jwt.InvalidIssuerError, "wrong_issuer", "invalid token: wrong issuer (InvalidIssuerError)"),
    (
        jwt.InvalidAlgorithmError,
        "algorithm_not_allowed",
        "invalid token: algorithm not allowed (InvalidAlgorithmError)",
    ),
    (jwt.exceptions.InvalidSubjectError, "empty_subject", "invalid token: subject (sub) must be a non-empty string"),
    (jwt.InvalidIssuedAtError, "bad_iat", "invalid token: issued-at (iat) must be a number"),
    (jwt.DecodeError, "malformed", "invalid token: malformed (DecodeError)"),
)


def verify(settings: CommonSettings, token: str, *, now: float | None = None) -> Principal:
    """The token's principal, or :class:`AuthError` with a reason that never quotes the token."""
    key = settings.jwt_public_key or settings.jwt_secret.get_secret_value()
    leeway = settings.jwt_leeway_seconds
    current = time.time() if now is None else now
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=settings.jwt_algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=leeway,
            # exp/nbf/iat are checked against ``current`` below, so a test can pass its own clock
            options={"require": ["sub", "exp", "iat"], "verify_exp": False, "verify_nbf": False, "verify_iat": False},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"invalid token: the {exc.claim} claim is missing", f"missing_{exc.claim}") from None
    except jwt.InvalidTokenError as exc:
        for cls, reason, message in _PYJWT_REASONS:
            if isinstance(exc, cls):
                raise AuthError(message, reason) from None
        raise AuthError(f"invalid token: {type(exc).__name__}", "invalid") from None
    _check_times(settings, claims, current, leeway)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip():
        raise AuthError("invalid token: subject (sub) must be a non-empty string", "empty_subject")
    roles = frozenset(str(claims.get("scope", "")).split()) & frozenset(ROLES)
    return Principal(
        sub=sub,
        roles=roles,
        org=claims.get("org"),
        source_system=claims.get("source_system"),
        claims=claims,
    )


def _number(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthError(f"invalid token: {name} must be a number (seconds since the epoch)", f"bad_{name}")
    return float(value)


def _check_times(settings: CommonSettings, claims: dict[str, Any], now: float, leeway: float) -> None:
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if exp <= now - leeway:
        raise AuthError("token expired", "expired")
    if iat > now + leeway:
        raise AuthError("invalid token: issued in the future (iat)", "issued_in_future")
    if "nbf" in claims and _number(claims, "nbf") > now + leeway:
        raise AuthError("invalid token: not valid yet (nbf)", "not_yet_valid")
    if exp <= iat:
        raise AuthError("invalid token: expires before it was issued (exp <= iat)", "bad_lifetime")
    try:
        limit = settings.jwt_max_lifetime_seconds
    except DurationError:  # settings validation already refused it; stay safe if built with construct()
        limit = 12 * 3600.0
    if exp - iat > limit:
        raise AuthError(
            f"invalid token: lifetime (exp - iat) longer than the maximum {_lifetime_text(settings)}",
            "lifetime_too_long",
        )


_bearer = HTTPBearer(
    auto_error=False, description="JWT minted by the identity provider (dev: python -m shared.auth mint)"
)


def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    settings: CommonSettings = request.app.state.settings
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "missing bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    try:
        principal = verify(settings, credentials.credentials)
    except AuthError as exc:
        # the reason is a fixed sentence (no token content), so it is safe in a header (RFC 6750 section 3)
        challenge = f'Bearer error="invalid_token", error_description="{str(exc).replace(chr(34), chr(39))}"'
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": challenge}) from None
    request.state.principal = principal
    return principal


def require(*roles: str) -> Callable[..., Principal]:
    """FastAPI dependency: the caller must hold one of ``roles`` (403 otherwise)."""
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(*roles):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"requires one of the roles: {', '.join(roles)}")
        return principal

    dependency.__name__ = f"require_{'_or_'.join(roles)}"
    return dependency


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.auth", description="mint dev bearer tokens")
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mint", help="print a signed token")
    m.add_argument("--role", action="append", required=True, choices=ROLES, help="repeat for several roles")
    m.add_argument("--sub", required=True, help="subject: user or system id (pseudonymous)")
    m.add_argument("--org", help="organisation id")
    m.add_argument("--source-system", help="court integrators: the source_system they may publish for")
    m.add_argument(
        "--ttl",
        default="3600",
        help="life of the token: seconds or a duration such as 8h (default 3600; at most CENTINELA_JWT_MAX_LIFETIME)",
    )
    args = parser.parse_args(argv)
    try:
        ttl = (
            int(args.ttl)
            if str(args.ttl).lstrip("-").isdigit()
            else int(parse_duration(args.ttl, where="--ttl").total_seconds())
        )
    except DurationError as exc:
        print(f"auth: error: {exc}", file=sys.stderr)
        return 2
    settings = CommonSettings()
    if settings.jwt_public_key:
        print(
            "auth: error: tokens are verified with a public key; mint them with your identity provider", file=sys.stderr
        )
        return 2
    try:
        token = mint(settings, sub=args.sub, roles=args.role, org=args.org, source_system=args.source_system, ttl=ttl)
    except AuthError as exc:
        print(f"auth: error: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
