"""What authentication answers when it says no; every message is safe to show the caller.

AuthError            an HTTP status, an error code and a message; ``response()`` renders it
├── Unauthenticated  401: credentials missing, malformed, expired or unverifiable
└── Forbidden        403: the caller is known but may not read this
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from starlette.responses import JSONResponse

from atlas.errors import AtlasError


class AuthError(AtlasError):
    """Base of the answers authentication gives; never carries a credential in its message."""

    status: ClassVar[int]
    code: ClassVar[str]
    headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def response(self) -> JSONResponse:
        """``{"error": code, "message": message}`` with this error's status and headers."""
        body = {"error": self.code, "message": self.message}
        return JSONResponse(body, status_code=self.status, headers=dict(self.headers))


class Unauthenticated(AuthError):
    """No verifier accepted the request's credentials; the message says why, briefly."""

    status = 401
    code = "unauthenticated"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(AuthError):
    """The caller is authenticated but may not read what it asked for."""

    status = 403
    code = "forbidden"
