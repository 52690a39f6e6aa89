"""The JWT verifier from ``ATLAS_AUTH_JWT_*`` and ``ATLAS_AUTH_JWKS_URL``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from urllib.parse import urlsplit

from api.jwt_verifier import JwksKeys, JwtRules, JwtVerifier, KeySource, SecretKey
from atlas.redact import redact_url
from atlas.settings import SettingsError

SHARED_KEY = "ATLAS_AUTH_JWT_SECRET"
JWKS_URL = "ATLAS_AUTH_JWKS_URL"
ISSUER = "ATLAS_AUTH_JWT_ISSUER"
AUDIENCE = "ATLAS_AUTH_JWT_AUDIENCE"
USER_CLAIM = "ATLAS_AUTH_JWT_USER_CLAIM"
ROLES_CLAIM = "ATLAS_AUTH_JWT_ROLES_CLAIM"
LEEWAY = "ATLAS_AUTH_JWT_LEEWAY"
MIN_SECRET_LENGTH = 32  # RFC 7518: an HS256 key is at least as long as the hash, 256 bits


def _get(env: Mapping[str, str], name: str) -> str | None:
    return env.get(name, "").strip() or None


def _leeway(env: Mapping[str, str]) -> float:
    raw = _get(env, LEEWAY)
    if raw is None:
        return 30.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan  # refused below, with the other bad values
    if not 0 <= value < math.inf:
        raise SettingsError(f"{LEEWAY} must be a number of seconds >= 0, got {raw!r}")
    return value


def _claim_name(env: Mapping[str, str], name: str, default: str) -> str:
    claim = _get(env, name) or default
    if not all(claim.split(".")):
        raise SettingsError(f"{name} must be a claim name or a dotted path, got {claim!r}")
    return claim


def _secret_key(secret: str) -> SecretKey:
    if len(secret.encode()) < MIN_SECRET_LENGTH:
        raise SettingsError(f"{SHARED_KEY} must be at least {MIN_SECRET_LENGTH} bytes for HS256")
    return SecretKey(secret)


def _jwks_keys(url: str, rules: JwtRules) -> JwksKeys:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(f"{JWKS_URL} must be an http(s) URL, got {redact_url(url)!r}")
    if rules.audience is None:
        # A provider's key set signs tokens for every application it serves, not only yours.
        raise SettingsError(f"{AUDIENCE} is required with {JWKS_URL}")
    return JwksKeys(url)


def jwt_verifier_from_env(env: Mapping[str, str]) -> JwtVerifier | None:
    """The JWT verifier; ``None`` when neither a secret nor a JWKS URL is set."""
    secret, url = _get(env, SHARED_KEY), _get(env, JWKS_URL)
    rules = JwtRules(
        _get(env, ISSUER),
        _get(env, AUDIENCE),
        _claim_name(env, USER_CLAIM, "sub"),
        _leeway(env),
        _claim_name(env, ROLES_CLAIM, "roles"),
    )
    keys: KeySource
    if secret and url:
        raise SettingsError(f"set {SHARED_KEY} or {JWKS_URL}, not both")
    if secret:
        keys = _secret_key(secret)
    elif url:
        keys = _jwks_keys(url, rules)
    else:
        stray = next(
            (
                name
                for name in (ISSUER, AUDIENCE, USER_CLAIM, LEEWAY, ROLES_CLAIM)
                if _get(env, name)
            ),
            None,
        )
        if stray:
            raise SettingsError(f"{stray} is set but neither {SHARED_KEY} nor {JWKS_URL} is")
        return None
    return JwtVerifier(keys, rules)
