"""``POST /v1/billing/checkout``, ``POST /v1/billing/portal`` and ``GET /v1/users/{user_id}/
invoices``: the billing pages a product links to, and the user's invoices for their records.

The checkout and portal answer ``{"url": ...}``, or ``303`` to it when asked with
``?redirect=true`` or ``Accept: text/html`` (a plain HTML form can post to them).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from api import queries
from api.auth import Principal
from api.ids import valid_id
from api.json_body import BadBody, json_object
from api.representation import iso_time, unknown_user
from api.stripe_billing import BillingError, StripeBilling
from atlas.catalog import FREE_TIER, Catalog
from atlas.http_errors import error_response

SUBSCRIBED_STATUSES = frozenset({"active", "trialing", "past_due"})


class BadRequest(Exception):
    """The request is malformed; the message says how."""


async def _body(request: Request, allowed: set[str]) -> dict[str, Any]:
    try:
        body = json_object(await request.body(), allowed, empty_ok=True)
    except BadBody as exc:
        raise BadRequest(str(exc)) from None
    if any(not isinstance(value, str) for value in body.values()):
        raise BadRequest("every field is a string")
    return body


def _user_of(principal: Principal, body: dict[str, Any]) -> str:
    """Users act for themselves; a service names the user in the body."""
    if principal.kind == "user":
        if body.get("user_id", principal.subject) != principal.subject:
            raise PermissionError("a user may open billing pages only for themself")
        return principal.subject
    user_id = body.get("user_id")
    if not user_id:
        raise BadRequest("a service must name the user: user_id")
    if not valid_id(user_id):
        raise BadRequest("user_id must be 1-256 printable characters")
    return str(user_id)


def _answer(request: Request, url: str) -> Response:
    wants_redirect = request.query_params.get("redirect") == "true"
    if wants_redirect or "text/html" in request.headers.get("accept", ""):
        return RedirectResponse(url, status_code=303)
    return JSONResponse({"url": url})


def price_for(catalog: Catalog, tier: str, price_id: str | None) -> str:
    plan = catalog.plans.get(tier)
    if plan is None or tier == FREE_TIER:
        paid = sorted(t for t in catalog.plans if t != FREE_TIER)
        raise BadRequest(f"plan must be one of {paid}, got {tier!r}")
    if price_id is not None:
        if price_id not in plan.price_ids:
            raise BadRequest(f"price {price_id!r} is not a price of plan {tier!r}")
        return price_id
    if len(plan.price_ids) != 1:
        if not plan.price_ids:
            raise BadRequest(
                f"plan {tier!r} has no Stripe price: set STRIPE_PRICE_ID_{tier.upper()}"
            )
        raise BadRequest(
            f"plan {tier!r} has several prices {sorted(plan.price_ids)}: pass price_id"
        )
    return next(iter(plan.price_ids))


def _unconfigured() -> Response:
    return error_response(
        503,
        "billing_not_configured",
        "set STRIPE_SECRET_KEY, ATLAS_CHECKOUT_SUCCESS_URL, ATLAS_CHECKOUT_CANCEL_URL and "
        "ATLAS_PORTAL_RETURN_URL on the API",
    )


async def post_checkout(
    request: Request,
    principal: Principal,
    engine: AsyncEngine,
    catalog: Catalog,
    billing: StripeBilling | None,
) -> Response:
    if billing is None:
        return _unconfigured()
    try:
        body = await _body(request, {"plan", "price_id", "user_id"})
        user_id = _user_of(principal, body)
        price_id = price_for(catalog, str(body.get("plan", "")), body.get("price_id"))
    except BadRequest as exc:
        return error_response(400, "invalid_request", str(exc))
    except PermissionError as exc:
        return error_response(403, "forbidden", str(exc))
    row = await queries.row_for_user(engine, user_id)
    if row and row["plan"] != FREE_TIER and row["status"] in SUBSCRIBED_STATUSES:
        return error_response(
            409,
            "already_subscribed",
            f"already on plan {row['plan']!r}; change plans in the customer portal",
        )
    customer_id = row["stripe_customer_id"] if row else None
    try:
        url = await billing.checkout(price_id=price_id, user_id=user_id, customer_id=customer_id)
    except BillingError as exc:
        return error_response(502, "stripe_error", str(exc))
    return _answer(request, url)


async def post_portal(
    request: Request, principal: Principal, engine: AsyncEngine, billing: StripeBilling | None
) -> Response:
    if billing is None:
        return _unconfigured()
    try:
        user_id = _user_of(principal, await _body(request, {"user_id"}))
    except BadRequest as exc:
        return error_response(400, "invalid_request", str(exc))
    except PermissionError as exc:
        return error_response(403, "forbidden", str(exc))
    row = await queries.row_for_user(engine, user_id)
    if row is None:
        return error_response(
            409, "no_customer", "this user has no Stripe customer yet: subscribe through checkout"
        )
    try:
        url = await billing.portal(row["stripe_customer_id"])
    except BillingError as exc:
        return error_response(502, "stripe_error", str(exc))
    return _answer(request, url)


async def get_invoices(request: Request, principal: Principal, engine: AsyncEngine) -> Response:
    user_id = request.path_params["user_id"]
    if not principal.may_read_user(user_id):
        return error_response(403, "forbidden", "you may read only your own invoices")
    row = await queries.row_for_user(engine, user_id)
    if row is None:
        return unknown_user(user_id)
    invoices = await queries.invoices_of(engine, row["stripe_customer_id"])
    return JSONResponse(
        {
            "customer_id": row["stripe_customer_id"],
            "invoices": [
                {
                    "invoice_id": invoice["stripe_invoice_id"],
                    "subscription_id": invoice["stripe_subscription_id"],
                    "status": invoice["status"],
                    "amount_due": invoice["amount_due"],
                    "amount_paid": invoice["amount_paid"],
                    "currency": invoice["currency"],
                    "hosted_invoice_url": invoice["hosted_invoice_url"],
                    "created": iso_time(invoice["invoice_created"]),
                }
                for invoice in invoices
            ],
        }
    )
