"""The example's stand-in for your sign-in: who is calling, from a header or a cookie.

Services and scripts send ``X-User-Id``; the browser page signs in with ``POST /session``
``{"user_id": …}``, which sets the ``reports_user`` cookie (HttpOnly, SameSite=Lax).
The cookie holds the bare user id: anyone can claim any user. Replace this module with your
own session (a signed cookie, a verified JWT…); nothing else in the example changes.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

COOKIE = "reports_user"
MAX_USER_ID = 256


def user_of(request: Request) -> str | None:
    return request.headers.get("x-user-id") or request.cookies.get(COOKIE) or None


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


async def _who(request: Request) -> Response:
    user = user_of(request)
    if user is None:
        return _error(401, "unauthenticated", "sign in first")
    return JSONResponse({"user_id": user})


async def _sign_in(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    user = body.get("user_id") if isinstance(body, dict) else None
    if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID:
        return _error(400, "invalid_user_id", 'send {"user_id": …}: 1-256 characters')
    response = JSONResponse({"user_id": user})
    response.set_cookie(COOKIE, user, httponly=True, samesite="lax")
    return response


async def _sign_out(_request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(COOKIE)
    return response


routes = [
    Route("/session", _who, methods=["GET"]),
    Route("/session", _sign_in, methods=["POST"]),
    Route("/session", _sign_out, methods=["DELETE"]),
]
