"""Who may open the operator's page: a service API key, or a user with the ``atlas-admin``
role, through the same verifiers as the entitlements API (``api/auth.py``).

A browser signs in once with ``POST /admin/login``: the credential it typed is checked, then
kept in a cookie (``HttpOnly``, ``SameSite=Strict``, ``Path=/admin``, ``Secure`` over https)
and presented as ``Authorization: Bearer`` on every later page; scripts send the header
themselves. Removing a key from ``ATLAS_API_KEYS`` or a token expiring ends the session.
The sign-in and sign-out forms refuse cross-site posts (``Origin`` / ``Sec-Fetch-Site``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from api.auth import Authenticator, Forbidden, Principal, Unauthenticated

COOKIE = "atlas_admin"
COOKIE_PATH = "/admin"
COOKIE_MAX_AGE_S = 8 * 3600
MAX_CREDENTIAL_LENGTH = 8192
_HEADER_SAFE = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces: it becomes a header


class NotConfigured(Exception):
    """The ingress has no authentication settings, so the page is off."""


def _with_cookie_credential(request: Request) -> Request:
    """``request``, with the sign-in cookie as a bearer credential when it sends none."""
    cookie = request.cookies.get(COOKIE)
    has_own = "authorization" in request.headers or "x-api-key" in request.headers
    if has_own or not cookie:
        return request
    if len(cookie) > MAX_CREDENTIAL_LENGTH or not _HEADER_SAFE.match(cookie):
        raise Unauthenticated("invalid credentials")
    scope = dict(request.scope)
    scope["headers"] = [*request.scope["headers"], (b"authorization", f"Bearer {cookie}".encode())]
    return Request(scope, request.receive)


async def admin_principal(authenticator: Authenticator | None, request: Request) -> Principal:
    """The operator, or :class:`Unauthenticated` (401) / :class:`Forbidden` (403)."""
    if authenticator is None:
        raise NotConfigured
    principal = await authenticator.authenticate(_with_cookie_credential(request))
    if not principal.is_admin:
        raise Forbidden("the operator's page needs a service API key or the atlas-admin role")
    return principal


async def check_credential(
    authenticator: Authenticator | None, request: Request, credential: str
) -> Principal:
    """The operator ``credential`` (an API key or a token) stands for, as :func:`admin_principal`
    will find it on later pages; ``request`` is the sign-in form's."""
    if len(credential) > MAX_CREDENTIAL_LENGTH or not _HEADER_SAFE.match(credential):
        raise Unauthenticated("invalid credentials")
    presented = (b"authorization", b"x-api-key", b"cookie")
    headers = [(name, value) for name, value in request.scope["headers"] if name not in presented]
    bearer = (b"authorization", b"Bearer " + credential.encode())
    scope = {**request.scope, "headers": [*headers, bearer]}
    return await admin_principal(authenticator, Request(scope))


def same_origin(request: Request) -> bool:
    """False for a form posted from another site (login CSRF): the browser's
    ``Sec-Fetch-Site``, else its ``Origin`` against the ``Host`` it asked."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser's cross-site form: those always say where they come from
    return urlsplit(origin).netloc == request.headers.get("host")


def keep_credential(response: Response, request: Request, credential: str) -> None:
    response.set_cookie(
        COOKIE,
        credential,
        max_age=COOKIE_MAX_AGE_S,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def forget_credential(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
