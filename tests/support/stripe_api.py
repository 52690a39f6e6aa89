"""A small Stripe-compatible API server for the tests (``stripe.api_base`` points at it):
it serves the subscriptions and active entitlements the test registers (entitlements in pages
of ``limit``, as Stripe lists them), records every request, and needs the bearer key the test
configured. localstripe has no Checkout or billing portal, so this stays ours."""

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

SECRET_KEY = "sk_test_atlas_" + "d" * 24


class FakeStripeApi:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.entitlements: dict[str, list[str]] = {}  # customer -> lookup keys
        self.requests: list[tuple[str, str]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/v1/subscriptions/{sub_id}", self._subscription),
                Route("/v1/entitlements/active_entitlements", self._active_entitlements),
            ]
        )
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

    async def _active_entitlements(self, request: Request) -> JSONResponse:
        self.requests.append((request.method, str(request.url.path) + "?" + request.url.query))
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"type": "invalid_request_error"}}, status_code=401)
        customer = request.query_params["customer"]
        limit = int(request.query_params.get("limit", "10"))
        entries = [
            {"id": f"ent_{customer}_{i}", "object": "entitlements.active_entitlement",
             "feature": f"feat_{key}", "livemode": False, "lookup_key": key}
            for i, key in enumerate(self.entitlements.get(customer, []))
        ]  # fmt: skip
        after = request.query_params.get("starting_after")
        start = next((i + 1 for i, e in enumerate(entries) if e["id"] == after), 0)
        page = entries[start : start + limit]
        return JSONResponse(
            {
                "object": "list",
                "data": page,
                "has_more": start + limit < len(entries),
                "url": "/v1/entitlements/active_entitlements",
            }
        )

    def start(self) -> FakeStripeApi:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake Stripe API did not start")
            time.sleep(0.02)
        return self

    @property
    def settings(self) -> dict[str, str]:
        """What points the worker at this server: STRIPE_SECRET_KEY and STRIPE_API_BASE."""
        return {"STRIPE_SECRET_KEY": self.api_key, "STRIPE_API_BASE": self.url}

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
