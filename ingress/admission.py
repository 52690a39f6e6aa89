"""A bound on webhooks in flight: past it the ingress answers ``503 overloaded`` at once.

In a flood every request would hold its body (up to 1 MiB) and a pending publish until memory
runs out. Past ``ATLAS_MAX_IN_FLIGHT`` webhooks being read, verified or published, a new one
gets ``503`` with ``Retry-After`` and ``Connection: close`` before its body is read; Stripe
retries it, so nothing is lost, and the process stays up and keeps answering. Plain ASGI
middleware: the webhook route is unchanged and a request under the bound costs a comparison.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from atlas import metrics
from atlas.http_errors import error_response

RETRY_AFTER_S = "1"


class AdmissionLimit:
    def __init__(self, app: ASGIApp, *, path: str, limit: int) -> None:
        self._app = app
        self._path = path
        self._limit = limit
        self._in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self._path:
            await self._app(scope, receive, send)
            return
        if self._in_flight >= self._limit:
            metrics.WEBHOOKS.labels("overloaded").inc()
            refusal = error_response(
                503,
                "overloaded",
                "too many webhooks in flight; retry",
                **{"Retry-After": RETRY_AFTER_S, "Connection": "close"},
            )
            await refusal(scope, receive, send)
            return
        self._in_flight += 1
        try:
            await self._app(scope, receive, send)
        finally:
            self._in_flight -= 1


def admission_limit(path: str, limit: int) -> Middleware:
    """The middleware entry for ``Starlette(middleware=[...])``."""
    return Middleware(AdmissionLimit, path=path, limit=limit)
