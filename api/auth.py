"""Authentication for the entitlements API: bring your own system and tell Atlas how.

:func:`authenticator_from_env` builds an :class:`Authenticator` from whichever of these are
set, tried in this order: static service API keys (``ATLAS_API_KEYS``), JWTs
(``ATLAS_AUTH_JWT_SECRET`` or ``ATLAS_AUTH_JWKS_URL``), your own callable
(``ATLAS_AUTH_CALLABLE``). The first verifier that accepts the credentials decides; one that
recognises them as its kind but finds them invalid ends the search with a 401.

Wiring it into a Starlette app::

    app = Starlette(routes=..., exception_handlers={AuthError: handle_auth_error})

    async def user_entitlements(request: Request) -> Response:
        principal = await authenticator.authenticate(request)  # or 401
        forbid_unless(principal.may_read_user(request.path_params["user_id"]))  # or 403
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from starlette.requests import Request
from starlette.responses import Response

from api.api_key_verifier import api_key_verifier_from_env
from api.auth_errors import AuthError, Forbidden, Unauthenticated
from api.callable_verifier import callable_verifier_from_env
from api.jwt_settings import jwt_verifier_from_env
from api.principal import ADMIN_ROLE, Principal, Verifier, bearer_token
from atlas.settings import SettingsError

__all__ = [
    "ADMIN_ROLE",
    "AuthError",
    "Authenticator",
    "Forbidden",
    "Principal",
    "Unauthenticated",
    "Verifier",
    "authenticator_from_env",
    "forbid_unless",
    "verifiers_from_env",
    "handle_auth_error",
]

log = logging.getLogger(__name__)


class Authenticator:
    """Tries its verifiers in order; the first :class:`Principal` wins."""

    def __init__(self, verifiers: Sequence[Verifier]) -> None:
        self._verifiers = tuple(verifiers)

    async def authenticate(self, request: Request) -> Principal:
        """The caller, or :class:`Unauthenticated` (a 401) saying briefly why not."""
        try:
            principal = await self._first_principal(request)
        except Unauthenticated as exc:
            log.info("401 %s %s: %s", request.method, request.url.path, exc.message)
            raise
        log.debug("authenticated %s %s", principal.kind, principal.subject)
        return principal

    async def _first_principal(self, request: Request) -> Principal:
        for verifier in self._verifiers:
            principal = await verifier.verify(request)
            if principal is not None:
                return principal
        presented = bearer_token(request) or request.headers.get("x-api-key")
        raise Unauthenticated("invalid credentials" if presented else "missing credentials")


def forbid_unless(allowed: bool, message: str = "not allowed to read this user") -> None:
    """Raise :class:`Forbidden` (a 403) unless ``allowed``."""
    if not allowed:
        raise Forbidden(message)


async def handle_auth_error(_request: Request, exc: Exception) -> Response:
    """A Starlette exception handler for :class:`AuthError`: its JSON body, status and
    headers."""
    assert isinstance(exc, AuthError)
    return exc.response()


def verifiers_from_env(env: Mapping[str, str]) -> list[Verifier]:
    """The verifiers the variables in ``env`` configure, in the order they are tried (none
    when none is set); :class:`~atlas.settings.SettingsError` names a malformed variable."""
    candidates: tuple[Verifier | None, ...] = (
        api_key_verifier_from_env(env),
        jwt_verifier_from_env(env),
        callable_verifier_from_env(env),
    )
    return [verifier for verifier in candidates if verifier is not None]


def authenticator_from_env(env: Mapping[str, str]) -> Authenticator:
    """The authenticator the variables in ``env`` describe.

    Raises :class:`~atlas.settings.SettingsError` naming the variable when one is malformed,
    and when none is set: the API does not run unauthenticated.
    """
    verifiers = verifiers_from_env(env)
    if not verifiers:
        raise SettingsError(
            "the API needs authentication: set ATLAS_API_KEYS, ATLAS_AUTH_JWT_SECRET, "
            "ATLAS_AUTH_JWKS_URL or ATLAS_AUTH_CALLABLE"
        )
    return Authenticator(verifiers)
