"""Authentication and need-to-know: OAuth2 bearer JWTs, the roles of DESIGN.md as scopes.

    python -m shared.auth mint --role legal_advocate --sub adv-7 --org org-1 [--ttl 3600]
    python -m shared.auth mint --role court_integrator --sub fiscalia-lima --source-system sgf

Token claims: ``sub``, ``scope`` (space-separated roles), ``org``, optional ``source_system``
(court integrators), ``iss``, ``aud``, ``iat``, ``exp``.
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
    pass


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
        raise AuthError(f"unknown role(s) {unknown}; known: {', '.join(ROLES)}")
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


def verify(settings: CommonSettings, token: str) -> Principal:
    key = settings.jwt_public_key or settings.jwt_secret.get_secret_value()
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=settings.jwt_algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from None
    roles = frozenset(str(claims.get("scope", "")).split()) & frozenset(ROLES)
    return Principal(
        sub=str(claims["sub"]),
        roles=roles,
        org=claims.get("org"),
        source_system=claims.get("source_system"),
        claims=claims,
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
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        ) from None
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
    m.add_argument("--ttl", type=int, default=3600, help="seconds until expiry (default 3600)")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    if settings.jwt_public_key:
        print(
            "auth: error: tokens are verified with a public key; mint them with your identity provider", file=sys.stderr
        )
        return 2
    print(mint(settings, sub=args.sub, roles=args.role, org=args.org, source_system=args.source_system, ttl=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
