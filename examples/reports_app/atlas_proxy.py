"""``/atlas/*``: the two Atlas calls the page makes, forwarded with the signed-in user pinned.

The page's ``atlas-widgets`` reads ``GET /atlas/v1/users/{user_id}/entitlements`` and posts
``/atlas/v1/billing/portal`` on its own origin with its session cookie; this backend answers
only for the session's user and forwards to the Atlas API with its service key, which never
reaches the browser. Atlas's answer (status, body, ``ETag``, ``Cache-Control``) passes through
unchanged, so ``If-None-Match`` revalidation works end to end. When Atlas does not answer,
the page gets ``502 atlas_unreachable`` and keeps its last good answer until its maximum age.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.reports_app.session import user_of

log = logging.getLogger(__name__)

PASSED_HEADERS = ("content-type", "etag", "cache-control", "retry-after")
TIMEOUT_S = 10.0


def atlas_http(api_url: str, api_key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=api_url, headers={"authorization": f"Bearer {api_key}"}, timeout=TIMEOUT_S
    )


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _passed(answer: httpx.Response) -> Response:
    headers = {name: answer.headers[name] for name in PASSED_HEADERS if name in answer.headers}
    return Response(answer.content, status_code=answer.status_code, headers=headers)


async def _forward(
    request: Request,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: dict[str, str] | None = None,
) -> Response:
    atlas: httpx.AsyncClient | None = request.app.state.atlas_http
    if atlas is None:
        return _error(503, "atlas_not_configured", "set ATLAS_API_URL and ATLAS_API_KEY")
    try:
        answer = await atlas.request(method, path, headers=headers, json=body)
    except httpx.TransportError as exc:
        log.warning("Atlas API unreachable: %s", exc.__class__.__name__)
        return _error(502, "atlas_unreachable", "billing information is unavailable right now")
    return _passed(answer)


async def _entitlements(request: Request) -> Response:
    user = user_of(request)
    if user is None:
        return _error(401, "unauthenticated", "sign in first")
    if request.path_params["user_id"] != user:
        return _error(403, "forbidden", "you may read only your own entitlements")
    revalidate = request.headers.get("if-none-match")
    return await _forward(
        request,
        "GET",
        f"/v1/users/{quote(user, safe='')}/entitlements",
        headers={"if-none-match": revalidate} if revalidate else {},
    )


async def _portal(request: Request) -> Response:
    user = user_of(request)
    if user is None:
        return _error(401, "unauthenticated", "sign in first")
    return await _forward(request, "POST", "/v1/billing/portal", body={"user_id": user})


routes = [
    Route("/atlas/v1/users/{user_id:path}/entitlements", _entitlements, methods=["GET"]),
    Route("/atlas/v1/billing/portal", _portal, methods=["POST"]),
]
