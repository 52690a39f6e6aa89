"""JWTs from your identity provider, signed with a shared secret (HS256) or with keys published
at a JWKS URL (RS256, ES256).

Algorithms are pinned per key source, so ``none`` and an HS256 token signed with a published
public key are refused. A bearer token that does not parse as a JWT is not this verifier's:
API keys and your own tokens may share the ``Authorization`` header.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio.to_thread
import jwt
from jwt.types import Options
from starlette.requests import Request

from api.auth_errors import Unauthenticated
from api.principal import Principal, bearer_token
from atlas.redact import redact_url

log = logging.getLogger(__name__)

JWKS_TIMEOUT_S = 5.0
JWKS_CACHE_S = 300.0

_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidSignatureError, "bad signature"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.DecodeError, "malformed token"),
)


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"token has no {exc.claim} claim"
    return next((reason for kind, reason in _REASONS if isinstance(exc, kind)), "invalid token")


class KeySource(Protocol):
    """Where the verification key for a token comes from, and the algorithms it may sign."""

    algorithms: tuple[str, ...]

    async def key_for(self, header: Mapping[str, Any]) -> jwt.PyJWK | str: ...


class SecretKey:
    """A shared HS256 secret."""

    algorithms: tuple[str, ...] = ("HS256",)

    def __init__(self, secret: str) -> None:
        self._secret = secret

    async def key_for(self, header: Mapping[str, Any]) -> str:
        return self._secret


class _KeySetUnavailable(Exception):
    pass


class JwksKeys:
    """RS256/ES256 public keys from a JWKS URL, cached for :data:`JWKS_CACHE_S` seconds and
    fetched again early when a token names a key id the cached set lacks."""

    algorithms: tuple[str, ...] = ("RS256", "ES256")

    def __init__(self, url: str) -> None:
        self._url = url
        self._client = jwt.PyJWKClient(url, timeout=JWKS_TIMEOUT_S, lifespan=JWKS_CACHE_S)

    async def key_for(self, header: Mapping[str, Any]) -> jwt.PyJWK:
        kid = header.get("kid")
        if not kid:
            raise Unauthenticated("token has no kid header")
        try:
            # PyJWKClient fetches with blocking urllib; keep it off the event loop.
            key = await anyio.to_thread.run_sync(self._signing_key, kid)
        except _KeySetUnavailable as exc:
            log.warning("cannot fetch the JWKS at %s: %s", redact_url(self._url), exc.__cause__)
            raise Unauthenticated("cannot verify token: key set unavailable") from None
        if key is None:
            raise Unauthenticated("unknown signing key")
        return key

    def _signing_key(self, kid: str) -> jwt.PyJWK | None:
        try:
            self._client.get_signing_keys()  # from the cache, or fetched; fails without a set
        except jwt.PyJWTError as exc:
            raise _KeySetUnavailable from exc
        try:
            return self._client.get_signing_key(kid)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as exc:
            raise _KeySetUnavailable from exc
        except jwt.PyJWKClientError:
            return None


@dataclass(frozen=True)
class JwtRules:
    """What a verified token must also say: ``None`` skips the issuer or audience check."""

    issuer: str | None
    audience: str | None
    user_claim: str
    leeway_s: float
    roles_claim: str = "roles"


class JwtVerifier:
    """Accepts a valid JWT as the user its ``user_claim`` names."""

    def __init__(self, keys: KeySource, rules: JwtRules) -> None:
        self._keys = keys
        self._rules = rules
        self._options: Options = {
            "require": ["exp"],
            "verify_aud": rules.audience is not None,
            "enforce_minimum_key_length": True,
        }

    async def verify(self, request: Request) -> Principal | None:
        token = bearer_token(request)
        header = _jwt_header(token) if token else None
        if token is None or header is None:
            return None
        if header.get("alg") not in self._keys.algorithms:
            raise Unauthenticated("algorithm not allowed")
        key = await self._keys.key_for(header)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(self._keys.algorithms),
                issuer=self._rules.issuer,
                audience=self._rules.audience,
                leeway=self._rules.leeway_s,
                options=self._options,
            )
        except jwt.PyJWTError as exc:
            raise Unauthenticated(_reason(exc)) from None
        user_id = _user_id(claims, self._rules.user_claim)
        return Principal("user", user_id, _roles(claims, self._rules.roles_claim))


def _jwt_header(token: str) -> dict[str, Any] | None:
    """The unverified header, or ``None`` when ``token`` is not a JWT at all."""
    if token.count(".") != 2:
        return None
    try:
        return jwt.get_unverified_header(token)
    except jwt.DecodeError:
        return None
    except jwt.PyJWTError as exc:  # a JWT, but a broken one
        raise Unauthenticated(_reason(exc)) from None


def _claim(claims: Mapping[str, Any], claim: str) -> Any:
    """``claims[claim]``, or the dotted path ``claim`` names when no claim is called that."""
    value: Any = claims
    path = [claim] if claim in claims else claim.split(".")
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _user_id(claims: Mapping[str, Any], claim: str) -> str:
    value = _claim(claims, claim)
    if not isinstance(value, str) or not value:
        raise Unauthenticated(f"token has no string {claim} claim")
    return value


def _roles(claims: Mapping[str, Any], claim: str) -> frozenset[str]:
    """A list of strings, or one space-separated string (as OAuth's ``scope``); anything else
    grants no role (the token still authenticates its user)."""
    value = _claim(claims, claim)
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list):
        return frozenset(role for role in value if isinstance(role, str))
    return frozenset()
