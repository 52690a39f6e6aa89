"""A small Stripe-compatible API server for the tests (``stripe.api_base`` points at it).

It serves what the test registers — customers, subscriptions, active entitlements — as
Stripe does (lists newest first, in pages of ``limit`` with ``starting_after``), creates
Checkout and billing-portal sessions, records every request with its form parameters, and
answers 401 without the bearer key the test configured. localstripe has no prices, Checkout or
billing portal, so this stays ours.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas.embedded import free_port

SECRET_KEY = "sk_test_atlas_" + "d" * 24
_ids = itertools.count()


def _page(request: Request, items: Sequence[dict[str, Any]], url: str) -> JSONResponse:
    limit = int(request.query_params.get("limit", "10"))
    after = request.query_params.get("starting_after")
    start = next((i + 1 for i, item in enumerate(items) if item["id"] == after), 0)
    page = list(items[start : start + limit])
    return JSONResponse(
        {"object": "list", "data": page, "has_more": start + limit < len(items), "url": url}
    )


class FakeStripeApi:
    def __init__(self, api_key: str) -> None:
        self.api_key = api_key
        self.customers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.entitlements: dict[str, list[str]] = {}  # customer -> lookup keys
        self.requests: list[tuple[str, str]] = []
        self.forms: list[tuple[str, dict[str, str]]] = []  # POST path, form parameters
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = Starlette(
            routes=[
                Route("/v1/subscriptions", self._subscriptions),
                Route("/v1/subscriptions/{sub_id}", self._subscription),
                Route("/v1/customers", self._customers),
                Route("/v1/entitlements/active_entitlements", self._active_entitlements),
                Route("/v1/checkout/sessions", self._checkout, methods=["POST"]),
                Route("/v1/billing_portal/sessions", self._portal, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def _refused(self, request: Request) -> JSONResponse | None:
        query = f"?{request.url.query}" if request.url.query else ""
        self.requests.append((request.method, request.url.path + query))
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"type": "invalid_request_error"}}, status_code=401)
        return None

    async def _subscription(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        found = self.subscriptions.get(request.path_params["sub_id"])
        if found is None:
            error = {"type": "invalid_request_error", "code": "resource_missing"}
            return JSONResponse({"error": error}, status_code=404)
        return JSONResponse(found)

    async def _subscriptions(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        customer = request.query_params.get("customer")
        status = request.query_params.get("status", "active")
        chosen = [
            sub
            for sub in self.subscriptions.values()
            if (customer is None or sub["customer"] == customer)
            and (status == "all" or sub["status"] == status)
        ]
        chosen.sort(key=lambda sub: (sub.get("created", 0), sub["id"]), reverse=True)
        return _page(request, chosen, "/v1/subscriptions")

    async def _customers(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        return _page(request, list(reversed(self.customers.values())), "/v1/customers")

    async def _active_entitlements(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        customer = request.query_params["customer"]
        entries = [
            {"id": f"ent_{customer}_{i}", "object": "entitlements.active_entitlement",
             "feature": f"feat_{key}", "livemode": False, "lookup_key": key}
            for i, key in enumerate(self.entitlements.get(customer, []))
        ]  # fmt: skip
        return _page(request, entries, "/v1/entitlements/active_entitlements")

    async def _form(self, request: Request) -> dict[str, str]:
        form = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
        self.forms.append((request.url.path, form))
        return form

    async def _checkout(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        form = await self._form(request)
        session_id = f"cs_test_{next(_ids):06d}"
        return JSONResponse(
            {
                "id": session_id,
                "object": "checkout.session",
                "mode": form.get("mode"),
                "customer": form.get("customer"),
                "client_reference_id": form.get("client_reference_id"),
                "success_url": form.get("success_url"),
                "cancel_url": form.get("cancel_url"),
                "status": "open",
                "url": f"https://checkout.stripe.com/c/pay/{session_id}",
                "livemode": False,
            }
        )

    async def _portal(self, request: Request) -> JSONResponse:
        if refused := self._refused(request):
            return refused
        form = await self._form(request)
        session_id = f"bps_test_{next(_ids):06d}"
        return JSONResponse(
            {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": form.get("customer"),
                "return_url": form.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/{session_id}",
                "livemode": False,
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
        """What points Atlas at this server: STRIPE_SECRET_KEY and STRIPE_API_BASE."""
        return {"STRIPE_SECRET_KEY": self.api_key, "STRIPE_API_BASE": self.url}

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
