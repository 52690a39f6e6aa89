"""The one JSON error shape every Atlas HTTP endpoint answers with."""

from __future__ import annotations

from starlette.responses import JSONResponse


def error_response(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    """``{"error": code, "message": message}`` with ``status``; ``code`` is stable, for
    programs; ``message`` is for people."""
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)
