"""A small Stripe-compatible API server for the tests (``stripe.api_base`` points at it):
it serves the subscriptions the test registers, records every request, and needs the bearer
key the test configured. localstripe has no Checkout or billing portal, so this stays ours."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas.embedded import free_port


class FakeStripeApi:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(routes=[Route("/v1/subscriptions/{sub_id}", self._subscription)])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _subscription(self, request: Request) -> JSONResponse:
        self.requests.append((request.method, request.url.path))
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"type": "invalid_request_error"}}, status_code=401)
        found = self.subscriptions.get(request.path_params["sub_id"])
        if found is None:
            error = {"type": "invalid_request_error", "code": "resource_missing"}
            return JSONResponse({"error": error}, status_code=404)
        return JSONResponse(found)

    def start(self) -> FakeStripeApi:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Stripe API did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
