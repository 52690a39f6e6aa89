"""An example service gating two endpoints on two Atlas features.

    GET /reports/export   needs "exports"           (pro and advisory plans)
    GET /advisor/slots    needs "advisory-sessions" (advisory plan)
    GET /                 open to everyone

Run it next to ``scripts/dev`` (which prints the API key)::

    ATLAS_API_URL=http://127.0.0.1:8001 ATLAS_API_KEY=atlas_dev_... \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
        .venv/bin/uvicorn examples.reports_app.app:app --port 8080

The user id comes from the ``X-User-Id`` header: a stand-in for your own authentication (a
session, a verified JWT…); replace ``user_of`` with how your app knows who is calling.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from atlas_client import AsyncEntitlementsClient
from atlas_client.starlette import AtlasGate, gated_route, requires_feature


def user_of(request: Request) -> str | None:
    return request.headers.get("x-user-id") or None


@requires_feature("exports")
async def export_report(request: Request) -> JSONResponse:
    decision = request.state.atlas_decision
    return JSONResponse({"report": "q3.csv", "plan": decision.plan})


async def advisor_slots(request: Request) -> JSONResponse:
    return JSONResponse({"slots": ["Mon 10:00", "Thu 15:00"]})


async def home(request: Request) -> JSONResponse:
    return JSONResponse({"hello": user_of(request)})


def entitlements_client() -> AsyncEntitlementsClient:
    return AsyncEntitlementsClient(
        api_url=os.environ.get("ATLAS_API_URL"),
        api_key=os.environ.get("ATLAS_API_KEY"),
        kafka_bootstrap_servers=os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        topic_prefix=os.environ.get("ATLAS_TOPIC_PREFIX", ""),
        upgrade_url=os.environ.get("UPGRADE_URL", "https://example.com/pricing"),
    )


def create_app() -> Starlette:
    """Importing builds nothing that needs settings (``atlas features check`` imports this);
    the client is made and started when the app starts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with entitlements_client() as client:
            app.state.atlas_gate = AtlasGate(client, user_id=user_of)
            yield

    return Starlette(
        routes=[
            Route("/", home),
            Route("/reports/export", export_report),
            gated_route("/advisor/slots", advisor_slots, feature="advisory-sessions"),
        ],
        lifespan=lifespan,
    )


app = create_app()
