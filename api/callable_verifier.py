"""Your own authentication code: ``ATLAS_AUTH_CALLABLE="myapp.auth:verify_request"``.

The callable receives the Starlette ``Request`` and returns a user id (``str``), a
:class:`~api.principal.Principal`, or ``None`` when the request carries none of its
credentials. It may be ``async``; a plain function runs in a worker thread, so it may block.
It may raise :class:`~api.auth_errors.Unauthenticated` with a reason for the caller; any other
exception is logged with its traceback and answered ``401 authentication failed``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import cast

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.auth_errors import Unauthenticated
from api.principal import Principal
from atlas.settings import SettingsError

log = logging.getLogger(__name__)

VARIABLE = "ATLAS_AUTH_CALLABLE"

UserCode = Callable[[Request], object]


class CallableVerifier:
    """Asks the user's callable; its exceptions become a logged 401, never a 500."""

    def __init__(self, function: UserCode, path: str) -> None:
        self._function = function
        self._path = path
        # An async function, or an object whose __call__ is one.
        self._is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            type(function).__call__
        )

    async def verify(self, request: Request) -> Principal | None:
        try:
            result = await self._call(request)
        except Unauthenticated:
            raise
        except Exception:
            log.exception("%s %s raised; answering 401", VARIABLE, self._path)
            raise Unauthenticated("authentication failed") from None
        if result is None or isinstance(result, Principal):
            return result
        if isinstance(result, str) and result:
            return Principal("user", result)
        # The type only: the value may be a credential.
        log.error(
            "%s %s returned %s; expected a user id, a Principal or None",
            VARIABLE,
            self._path,
            type(result).__name__,
        )
        raise Unauthenticated("authentication failed")

    async def _call(self, request: Request) -> object:
        if self._is_async:
            return await cast("Awaitable[object]", self._function(request))
        return await run_in_threadpool(self._function, request)


def _import(path: str) -> UserCode:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise SettingsError(f"{VARIABLE} must look like 'package.module:function', got {path!r}")
    try:
        found = functools.reduce(
            getattr, attribute.split("."), importlib.import_module(module_name)
        )
    except Exception as exc:  # importing user code can raise anything
        raise SettingsError(
            f"{VARIABLE}={path!r} cannot be imported: {type(exc).__name__}: {exc}"
        ) from exc
    if not callable(found):
        raise SettingsError(f"{VARIABLE}={path!r} is not callable")
    return cast(UserCode, found)


def callable_verifier_from_env(env: Mapping[str, str]) -> CallableVerifier | None:
    """The verifier for ``ATLAS_AUTH_CALLABLE``; ``None`` when it is not set."""
    path = env.get(VARIABLE, "").strip()
    return CallableVerifier(_import(path), path) if path else None
