"""The entitlements API: the single source of truth over HTTP, read from Postgres.

``GET /v1/users/{user_id}/entitlements`` is what a frontend reads on login and every few
minutes, and what the client library bootstraps from; ``GET /v1/customers/{customer_id}/
entitlements`` is the same by Stripe customer; ``GET /v1/catalog`` is the catalog in force.
Every route but the health checks needs credentials (see ``api/auth.py``); a user may read
only their own entitlements. ``/openapi.json`` describes every endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from api import queries
from api.auth import Authenticator, Principal, Unauthenticated
from api.billing_routes import get_invoices, post_checkout, post_portal
from api.ids import valid_id
from api.openapi import openapi_document
from api.override_routes import get_overrides, post_override
from api.representation import (
    catalog_body,
    entitlements_body,
    etag_matches,
    etag_of,
    unknown_user,
)
from api.stripe_billing import StripeBilling
from atlas.catalog import Catalog, CatalogError, parse_catalog
from atlas.http_errors import ROUTING_ERRORS, error_response
from ingress.publisher import Publisher

log = logging.getLogger(__name__)

RETRY_AFTER_S = "5"
CACHE_CONTROL = "private, no-cache"  # reuse only after revalidating with If-None-Match

Handler = Callable[[Request, Principal], Awaitable[Response]]


def _entitlements_response(request: Request, row: dict[str, Any]) -> Response:
    etag = etag_of(row)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(entitlements_body(row), headers=headers)


def create_app(
    engine: AsyncEngine,
    authenticator: Authenticator,
    fallback_catalog: Catalog,
    *,
    price_ids: dict[str, tuple[str, ...]] | None = None,
    overrides_publisher: Publisher | None = None,
    billing: StripeBilling | None = None,
) -> Starlette:
    """Build the API over ``engine``. ``fallback_catalog`` is the catalog in force until one
    is published with ``atlas catalog apply``; ``overrides_publisher`` writes to
    ``atlas.overrides`` and ``billing`` opens Stripe's pages (without them, those routes
    answer 503)."""

    def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                principal = await authenticator.authenticate(request)
            except Unauthenticated as exc:
                return exc.response()
            try:
                return await handler(request, principal)
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("Postgres read failed: %s", exc.__class__.__name__)
                return error_response(
                    503,
                    "database_unavailable",
                    "entitlements cannot be read right now; retry",
                    **{"Retry-After": RETRY_AFTER_S},
                )

        return endpoint

    async def user_entitlements(request: Request, principal: Principal) -> Response:
        user_id = request.path_params["user_id"]
        if not valid_id(user_id):
            return error_response(400, "invalid_user_id", "user ids are 1-256 printable chars")
        if not principal.may_read_user(user_id):
            return error_response(403, "forbidden", "you may read only your own entitlements")
        row = await queries.row_for_user(engine, user_id)
        if row is None:
            return unknown_user(user_id)
        return _entitlements_response(request, row)

    async def customer_entitlements(request: Request, principal: Principal) -> Response:
        customer_id = request.path_params["customer_id"]
        if not valid_id(customer_id):
            return error_response(400, "invalid_customer_id", "customer ids are 1-256 chars")
        row = await queries.row_for_customer(engine, customer_id)
        owner = row["user_id"] if row else None
        if principal.kind != "service" and (owner is None or not principal.may_read_user(owner)):
            return error_response(403, "forbidden", "you may read only your own entitlements")
        if row is None:
            return error_response(404, "unknown_customer", f"no customer {customer_id!r}")
        return _entitlements_response(request, row)

    async def catalog_in_force() -> Catalog:
        document = await queries.latest_catalog_document(engine)
        if document is None:
            return fallback_catalog
        try:
            return parse_catalog(
                document["source"], price_ids or {}, "published", int(document["version"])
            )
        except CatalogError as exc:
            log.error("published catalog %s is unusable here: %s", document["version"], exc)
            return fallback_catalog

    async def catalog(_request: Request, _principal: Principal) -> Response:
        current = await catalog_in_force()
        return JSONResponse(catalog_body(current), headers={"Cache-Control": CACHE_CONTROL})

    async def overrides(request: Request, principal: Principal) -> Response:
        if not valid_id(request.path_params["user_id"]):
            return error_response(400, "invalid_user_id", "user ids are 1-256 printable chars")
        if request.method == "GET":
            return await get_overrides(request, principal, engine)
        if overrides_publisher is None:
            return error_response(503, "broker_unavailable", "this API cannot publish overrides")
        current = await catalog_in_force()
        return await post_override(request, principal, engine, current, overrides_publisher)

    async def checkout(request: Request, principal: Principal) -> Response:
        current = await catalog_in_force()
        return await post_checkout(request, principal, engine, current, billing)

    async def portal(request: Request, principal: Principal) -> Response:
        return await post_portal(request, principal, engine, billing)

    async def invoices(request: Request, principal: Principal) -> Response:
        if not valid_id(request.path_params["user_id"]):
            return error_response(400, "invalid_user_id", "user ids are 1-256 printable chars")
        return await get_invoices(request, principal, engine)

    async def openapi(_request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (OperationalError, DBAPIError, OSError):
            return error_response(
                503,
                "database_unreachable",
                "Postgres did not answer",
                **{"Retry-After": RETRY_AFTER_S},
            )
        return JSONResponse({"status": "ready"})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await engine.dispose()
        if overrides_publisher is not None:
            await asyncio.to_thread(overrides_publisher.close)

    return Starlette(
        exception_handlers=ROUTING_ERRORS,
        routes=[
            Route(
                "/v1/users/{user_id:path}/entitlements",
                authenticated(user_entitlements),
                methods=["GET"],
            ),
            Route(
                "/v1/customers/{customer_id:path}/entitlements",
                authenticated(customer_entitlements),
                methods=["GET"],
            ),
            Route(
                "/v1/users/{user_id:path}/overrides",
                authenticated(overrides),
                methods=["GET", "POST"],
            ),
            Route("/v1/users/{user_id:path}/invoices", authenticated(invoices), methods=["GET"]),
            Route("/v1/billing/checkout", authenticated(checkout), methods=["POST"]),
            Route("/v1/billing/portal", authenticated(portal), methods=["POST"]),
            Route("/v1/catalog", authenticated(catalog), methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
