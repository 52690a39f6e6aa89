"""An example service gating two endpoints on two Atlas features, and serving the page that
shows or hides them (``examples/reports_web``, built with ``scripts/web-build``).

    GET /reports/export   needs "exports"           (pro and advisory plans)
    GET /advisor/slots    needs "advisory-sessions" (advisory plan)
    GET /                 open to everyone
    GET /app/             the page (atlas-widgets: gates, past-due banner, portal button)
    /session              sign in and out (a stand-in: see session.py)
    /atlas/v1/…           the page's two Atlas calls, forwarded (see atlas_proxy.py)

Run it next to ``scripts/dev`` (which prints the API key)::

    ATLAS_API_URL=http://127.0.0.1:8001 ATLAS_API_KEY=atlas_dev_... \\
    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 \\
        .venv/bin/uvicorn examples.reports_app.app:app --port 8080

The user id comes from the ``X-User-Id`` header or the page's sign-in cookie: a stand-in for
your own authentication (a session, a verified JWT…); replace ``session.user_of`` with how
your app knows who is calling.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from atlas_client import AsyncEntitlementsClient
from atlas_client.starlette import AtlasGate, gated_route, requires_feature
from examples.reports_app import atlas_proxy, session
from examples.reports_app.session import user_of

PAGE = Path(__file__).resolve().parent.parent / "reports_web" / "dist"


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


async def page_not_built(request: Request) -> PlainTextResponse:
    return PlainTextResponse("the page is not built: run scripts/web-build", status_code=404)


def page_route() -> BaseRoute:
    """The built page at /app/ (``REPORTS_WEB_DIST``, else examples/reports_web/dist)."""
    built = Path(os.environ.get("REPORTS_WEB_DIST", PAGE))
    if not (built / "index.html").is_file():
        return Route("/app/{rest:path}", page_not_built)
    return Mount("/app", StaticFiles(directory=built, html=True))


def create_app() -> Starlette:
    """Importing builds nothing that needs settings (``atlas features check`` imports this);
    the clients are made and started when the app starts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        api_url, api_key = os.environ.get("ATLAS_API_URL"), os.environ.get("ATLAS_API_KEY")
        async with contextlib.AsyncExitStack() as stack:
            client = await stack.enter_async_context(entitlements_client())
            app.state.atlas_gate = AtlasGate(client, user_id=user_of)
            app.state.atlas_http = None  # /atlas/* answers 503 without the API's address
            if api_url and api_key:
                http = atlas_proxy.atlas_http(api_url, api_key)
                app.state.atlas_http = await stack.enter_async_context(http)
            yield

    return Starlette(
        routes=[
            Route("/", home),
            Route("/reports/export", export_report),
            gated_route("/advisor/slots", advisor_slots, feature="advisory-sessions"),
            *session.routes,
            *atlas_proxy.routes,
            page_route(),
        ],
        lifespan=lifespan,
    )


app = create_app()
