"""The one JSON error shape every Atlas HTTP endpoint answers with."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

_CODES = {404: "not_found", 405: "method_not_allowed"}


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """``{"error": code, "message": message}`` with ``status``; ``code`` is stable, for
    programs; ``message`` is for people."""
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


async def _routing_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, exc.detail, **(exc.headers or {}))


# ``Starlette(exception_handlers=...)``: a path no route matches (404) or a method the route
# does not take (405, with ``Allow``) get the JSON shape too, not Starlette's plain text.
ROUTING_ERRORS = {HTTPException: _routing_error}
