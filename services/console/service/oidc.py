"""Sign-in through an external OpenID Connect provider (OpenID Connect Core 1.0, authorization code
flow with PKCE S256, state and nonce).

The provider is found by its discovery document (``{issuer}/.well-known/openid-configuration``,
whose ``issuer`` must equal the configured one). The ID token from the token endpoint is verified
against the provider's JWKS: an asymmetric signature (never ``none`` or an HMAC algorithm), ``iss``,
``aud`` (and ``azp``), ``exp``, ``iat`` and the ``nonce`` this sign-in sent. The identity it asserts
(the configured claim, ``sub`` by default) is only a key: an organisation admin links it to a
console user; nothing is created from it. Discovery and keys are cached for an hour, the keys
re-read once when a token names a key id not seen yet (key rotation at the provider).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus, urlencode

import httpx
import jwt

from services.console.settings import ConsoleSettings

log = logging.getLogger(__name__)

# asymmetric only: with HS256 the client secret (which the console also holds) could sign a token
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
CACHE_SECONDS = 3600.0
LOGIN_SECONDS = 600  # a sign-in started and not finished within 10 minutes starts again
LEEWAY_SECONDS = 60
ACCEPT = {"Accept": "application/json"}


class OidcError(Exception):
    """A refused sign-in; the message is a reason for logs and tests (never personal data)."""

    unavailable = False

    @property
    def reason(self) -> str:
        return str(self.args[0]) if self.args else "unknown"


class OidcUnavailable(OidcError):
    """The provider did not answer (network error, 5xx): try again later."""

    unavailable = True


@dataclass(frozen=True)
class Pending:
    """What the session keeps between the redirect to the provider and its answer."""

    state: str
    nonce: str
    verifier: str
    started_at: float

    def as_doc(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_doc(cls, doc: Any) -> Pending | None:
        try:
            return cls(**doc) if isinstance(doc, dict) else None
        except TypeError:  # written by another version: that sign-in starts again
            return None


@dataclass(frozen=True)
class Identity:
    subject: str  # the value of the configured claim
    mfa: bool  # the provider says it checked a second factor (amr)


def challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class OidcClient:
    settings: ConsoleSettings
    transport: httpx.BaseTransport | None = None
    _discovery: tuple[float, dict[str, Any]] | None = field(default=None, init=False, repr=False)
    _jwks: tuple[float, jwt.PyJWKSet] | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=self.settings.console_api_timeout_seconds, transport=self.transport)

    @property
    def enabled(self) -> bool:
        return bool(self.settings.console_oidc_issuer and self.settings.console_oidc_client_id)

    @property
    def issuer(self) -> str:
        return self.settings.console_oidc_issuer.rstrip("/")

    @property
    def redirect_uri(self) -> str:
        return self.settings.console_public_url.rstrip("/") + "/login/oidc/callback"

    def close(self) -> None:
        self.http.close()

    # --- provider documents -------------------------------------------------------------------------
    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            r = self.http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise OidcUnavailable(f"{what}_unreachable") from exc
        if r.status_code != 200:
            raise (OidcUnavailable if r.status_code >= 500 else OidcError)(f"{what}_status_{r.status_code}")
        try:
            doc = r.json()
        except ValueError:
            raise OidcError(f"{what}_not_json") from None
        if not isinstance(doc, dict):
            raise OidcError(f"{what}_not_an_object")
        return doc

    def discovery(self) -> dict[str, Any]:
        with self._lock:
            cached = self._discovery
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        doc = self._get_json(self.issuer + "/.well-known/openid-configuration", "discovery")
        # OpenID Connect Discovery 4.3: the issuer in the document is exactly the one asked for
        if str(doc.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcError("discovery_issuer_mismatch")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(name), str) or not doc[name]:
                raise OidcError(f"discovery_without_{name}")
        with self._lock:
            self._discovery = (time.monotonic(), doc)
        return doc

    def _keys(self, refresh: bool = False) -> jwt.PyJWKSet:
        with self._lock:
            cached = self._jwks
        if cached and not refresh and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        if cached and refresh and time.monotonic() - cached[0] < 60:
            return cached[1]  # an unknown kid re-reads the keys at most once a minute
        doc = self._get_json(str(self.discovery()["jwks_uri"]), "jwks")
        try:
            keys = jwt.PyJWKSet.from_dict(doc)
        except jwt.PyJWTError:
            raise OidcError("jwks_unusable") from None
        with self._lock:
            self._jwks = (time.monotonic(), keys)
        return keys

    def _key_for(self, kid: str | None) -> Any:
        for refresh in (False, True):
            keys = self._keys(refresh=refresh)
            usable = [k for k in keys.keys if k.public_key_use in (None, "sig")]
            if kid is None and len(usable) == 1:
                return usable[0].key
            for k in usable:
                if kid is not None and k.key_id == kid:
                    return k.key
        raise OidcError("unknown_signing_key")

    # --- the flow ------------------------------------------------------------------------------------
    def start(self, now: datetime) -> tuple[str, Pending]:
        """The provider's authorization URL to send the browser to, and what to remember for the answer."""
        doc = self.discovery()
        pending = Pending(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            verifier=secrets.token_urlsafe(48),  # 64 characters, within RFC 7636's 43..128
            started_at=now.timestamp(),
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.settings.console_oidc_client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.settings.console_oidc_scopes,
                "state": pending.state,
                "nonce": pending.nonce,
                "code_challenge": challenge(pending.verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = str(doc["authorization_endpoint"])
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", pending

    def finish(self, pending: Pending | None, params: dict[str, str], now: datetime) -> Identity:
        """Check the provider's answer against the pending sign-in, redeem the code, verify the ID token."""
        if pending is None:
            raise OidcError("no_pending_sign_in")
        if now.timestamp() - pending.started_at > LOGIN_SECONDS:
            raise OidcError("sign_in_too_old")
        if not hmac.compare_digest(params.get("state", "").encode(), pending.state.encode()):
            raise OidcError("state_mismatch")
        if params.get("error"):
            raise OidcError("provider_refused")
        code = params.get("code", "")
        if not code or len(code) > 2048:
            raise OidcError("no_code")
        id_token = self._redeem(code, pending)
        claims = self._verify(id_token, pending.nonce)
        return Identity(subject=self._subject(claims), mfa=self._mfa(claims))

    def _redeem(self, code: str, pending: Pending) -> str:
        doc = self.discovery()
        client_id = self.settings.console_oidc_client_id
        secret = self.settings.console_oidc_client_secret.get_secret_value()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": client_id,
            "code_verifier": pending.verifier,
        }
        auth: httpx.BasicAuth | None = None
        methods = doc.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if secret and "client_secret_basic" not in methods and "client_secret_post" in methods:
            form["client_secret"] = secret
        elif secret:
            # RFC 6749 2.3.1: both are form-urlencoded before they go into the Basic header
            auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(secret))
        try:
            r = self.http.post(
                str(doc["token_endpoint"]), data=form, auth=auth or httpx.USE_CLIENT_DEFAULT, headers=ACCEPT
            )
        except httpx.HTTPError as exc:
            raise OidcUnavailable("token_endpoint_unreachable") from exc
        if r.status_code != 200:
            raise (OidcUnavailable if r.status_code >= 500 else OidcError)(f"token_endpoint_status_{r.status_code}")
        try:
            body = r.json()
        except ValueError:
            raise OidcError("token_answer_not_json") from None
        token = body.get("id_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise OidcError("no_id_token")
        return token

    def _verify(self, token: str, nonce: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcError("id_token_malformed") from None
        alg = header.get("alg")
        allowed = self.discovery().get("id_token_signing_alg_values_supported") or ["RS256"]
        if alg not in ALGORITHMS or alg not in allowed:
            raise OidcError("id_token_algorithm_refused")
        kid = header.get("kid")
        key = self._key_for(kid if isinstance(kid, str) else None)
        client_id = self.settings.console_oidc_client_id
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=client_id,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "aud", "exp", "iat", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcError("id_token_expired") from None
        except jwt.InvalidAudienceError:
            raise OidcError("id_token_audience") from None
        except jwt.InvalidIssuerError:
            raise OidcError("id_token_issuer") from None
        except jwt.PyJWTError as exc:
            raise OidcError(f"id_token_invalid_{type(exc).__name__}") from None
        aud = claims.get("aud")
        azp = claims.get("azp")
        if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (azp is not None and azp != client_id):
            raise OidcError("id_token_azp")
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
            raise OidcError("id_token_nonce")
        return claims

    def _subject(self, claims: dict[str, Any]) -> str:
        name = self.settings.console_oidc_user_claim
        value = claims.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > 256:
            raise OidcError("no_user_claim")
        if name == "email":
            # an address is only an identity once the provider has verified it
            if claims.get("email_verified") is not True:
                raise OidcError("email_not_verified")
            return value.strip().lower()
        return value.strip()

    def _mfa(self, claims: dict[str, Any]) -> bool:
        trusted = {v.strip() for v in self.settings.console_oidc_mfa_amr.split(",") if v.strip()}
        amr = claims.get("amr")
        return bool(trusted) and isinstance(amr, list) and bool(trusted.intersection(str(a) for a in amr))
