"""Static service API keys: ``ATLAS_API_KEYS="billing-svc:KEY1,reports:KEY2"``.

A key arrives as ``X-API-Key: <key>`` or ``Authorization: Bearer <key>`` and authenticates the
service named beside it. Only SHA-256 digests of the keys are kept, and a presented key is
compared with every one of them, so timing says neither the key nor which name matched. Logs
show the name, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from starlette.requests import Request

from api.principal import Principal, bearer_token
from atlas.settings import SettingsError

VARIABLE = "ATLAS_API_KEYS"
MIN_KEY_LENGTH = 16
_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_KEY = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces: it must survive an HTTP header


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeyVerifier:
    """Accepts a configured key as the service it names; anything else is not its kind."""

    def __init__(self, digests: Mapping[str, bytes]) -> None:
        self._digests = tuple(digests.items())

    async def verify(self, request: Request) -> Principal | None:
        for presented in (request.headers.get("x-api-key"), bearer_token(request)):
            name = self._match(_digest(presented)) if presented else None
            if name is not None:
                return Principal("service", name)
        return None

    def _match(self, digest: bytes) -> str | None:
        found = None
        for name, expected in self._digests:  # no early exit: every key costs the same
            if hmac.compare_digest(digest, expected):
                found = name
        return found


def _entry(position: int, entry: str) -> tuple[str, str]:
    name, colon, key = (part.strip() for part in entry.partition(":"))
    if not colon or not _NAME.match(name):
        # The entry itself is never echoed: it may be a key whose name was left out.
        raise SettingsError(
            f"{VARIABLE} entry {position} must be name:key, the name made of letters, digits, "
            "'_', '-' or '.'"
        )
    if len(key) < MIN_KEY_LENGTH or not _KEY.match(key):
        raise SettingsError(
            f"{VARIABLE}: the key of {name!r} must be at least {MIN_KEY_LENGTH} printable ASCII "
            "characters without spaces"
        )
    return name, key


def api_key_verifier_from_env(env: Mapping[str, str]) -> ApiKeyVerifier | None:
    """The verifier for ``ATLAS_API_KEYS``; ``None`` when it is not set."""
    raw = env.get(VARIABLE, "").strip()
    if not raw:
        return None
    digests: dict[str, bytes] = {}
    entries = [entry.strip() for entry in raw.split(",")]
    for position, entry in enumerate(entries, start=1):
        if not entry:
            continue
        name, key = _entry(position, entry)
        if name in digests:
            raise SettingsError(f"{VARIABLE} names {name!r} twice")
        digests[name] = _digest(key)
    if not digests:
        raise SettingsError(f"{VARIABLE} has no name:key entries")
    if len(set(digests.values())) < len(digests):
        raise SettingsError(f"{VARIABLE} gives two names the same key")
    return ApiKeyVerifier(digests)
