"""Build Stripe events shaped like real ones (see ../shared/fixtures/stripe-events), in the
shapes of three API eras:

* ``legacy`` (2016-07-06): top-level ``plan``, ``current_period_end`` on the subscription;
  invoices with top-level ``subscription``.
* ``classic`` (2020-08-27): ``items.data[].price``, period on the subscription.
* ``dahlia`` (2026-04-22.dahlia): period on each item only; invoices link their subscription
  under ``parent.subscription_details`` and lines carry ``pricing.price_details``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

API_VERSIONS = {"legacy": "2016-07-06", "classic": "2020-08-27", "dahlia": "2026-04-22.dahlia"}
_sequence = itertools.count()


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}{next(_sequence):06d}"


def envelope(
    event_type: str,
    obj: dict[str, Any],
    created: int | None = None,
    *,
    shape: str = "classic",
    event_id: str | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": API_VERSIONS[shape],
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": new_id("req"), "idempotency_key": None},
        "type": event_type,
    }


def subscription_object(
    customer: str,
    subscription: str,
    price: str,
    status: str = "active",
    *,
    period_end: int | None = None,
    cancel_at_period_end: bool = False,
    shape: str = "classic",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    now = int(time.time())
    end = period_end if period_end is not None else now + 30 * 86400
    start = end - 30 * 86400
    price_obj = {
        "id": price,
        "object": "price",
        "active": True,
        "currency": "usd",
        "product": "prod_atlas",
        "recurring": {"interval": "month", "interval_count": 1},
        "type": "recurring",
        "unit_amount": 2900,
    }
    plan_obj = {
        "id": price,
        "object": "plan",
        "active": True,
        "amount": 2900,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "product": "prod_atlas",
    }
    sub: dict[str, Any] = {
        "id": subscription,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": cancel_at_period_end,
        "created": start,
        "livemode": False,
        "metadata": metadata or {},
        "collection_method": "charge_automatically",
        "canceled_at": now if status == "canceled" else None,
    }
    if shape == "legacy":
        sub.update(plan=plan_obj, quantity=1, current_period_start=start, current_period_end=end)
        return sub
    item: dict[str, Any] = {
        "id": new_id("si"),
        "object": "subscription_item",
        "price": price_obj,
        "quantity": 1,
        "subscription": subscription,
    }
    if shape == "dahlia":
        item.update(current_period_start=start, current_period_end=end)
    else:
        item["plan"] = plan_obj
        sub.update(plan=plan_obj, current_period_start=start, current_period_end=end)
    sub["items"] = {
        "object": "list",
        "data": [item],
        "has_more": False,
        "url": f"/v1/subscription_items?subscription={subscription}",
    }
    return sub


def subscription_event(
    event_type: str,
    customer: str,
    subscription: str,
    price: str,
    status: str = "active",
    *,
    created: int | None = None,
    shape: str = "classic",
    **fields: Any,
) -> dict[str, Any]:
    obj = subscription_object(customer, subscription, price, status, shape=shape, **fields)
    return envelope(f"customer.subscription.{event_type}", obj, created, shape=shape)


def invoice_object(
    customer: str,
    subscription: str | None,
    price: str,
    *,
    paid: bool,
    shape: str = "classic",
    invoice_id: str | None = None,
) -> dict[str, Any]:
    now = int(time.time())
    invoice_id = invoice_id or new_id("in")
    line: dict[str, Any] = {
        "id": new_id("il"),
        "object": "line_item",
        "amount": 2900,
        "currency": "usd",
        "period": {"start": now, "end": now + 30 * 86400},
        "quantity": 1,
    }
    invoice: dict[str, Any] = {
        "id": invoice_id,
        "object": "invoice",
        "customer": customer,
        "currency": "usd",
        "amount_due": 2900,
        "amount_paid": 2900 if paid else 0,
        "attempt_count": 1,
        "billing_reason": "subscription_cycle",
        "created": now,
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
        "status": "paid" if paid else "open",
        "livemode": False,
    }
    if shape == "dahlia":
        invoice["parent"] = {
            "type": "subscription_details",
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": subscription},
        }
        line["parent"] = {
            "type": "subscription_item_details",
            "subscription_item_details": {
                "subscription": subscription,
                "subscription_item": new_id("si"),
                "proration": False,
            },
        }
        line["pricing"] = {
            "type": "price_details",
            "price_details": {"price": price, "product": "prod_atlas"},
        }
    else:
        invoice["subscription"] = subscription
        invoice["paid"] = paid
        line.update(
            type="subscription",
            subscription=subscription,
            price={"id": price, "object": "price"},
            plan={"id": price, "object": "plan"},
        )
    invoice["lines"] = {
        "object": "list",
        "data": [line],
        "has_more": False,
        "url": f"/v1/invoices/{invoice_id}/lines",
    }
    return invoice


def invoice_event(
    event_type: str,
    customer: str,
    subscription: str | None,
    price: str,
    *,
    created: int | None = None,
    shape: str = "classic",
    invoice_id: str | None = None,
) -> dict[str, Any]:
    paid = event_type in ("invoice.payment_succeeded", "invoice.paid")
    obj = invoice_object(
        customer, subscription, price, paid=paid, shape=shape, invoice_id=invoice_id
    )
    return envelope(event_type, obj, created, shape=shape)


def checkout_completed(
    customer: str,
    subscription: str | None,
    user_id: str | None,
    *,
    created: int | None = None,
    via_metadata: bool = False,
) -> dict[str, Any]:
    session = {
        "id": new_id("cs_test"),
        "object": "checkout.session",
        "customer": customer,
        "subscription": subscription,
        "mode": "subscription" if subscription else "payment",
        "status": "complete",
        "payment_status": "paid",
        "livemode": False,
        "client_reference_id": None if via_metadata else user_id,
        "metadata": {"user_id": user_id} if via_metadata and user_id else {},
        "success_url": "https://example.com/success",
        "cancel_url": "https://example.com/cancel",
    }
    return envelope("checkout.session.completed", session, created)


def customer_event(
    event_type: str, customer: str, *, created: int | None = None, user_id: str | None = None
) -> dict[str, Any]:
    obj = {
        "id": customer,
        "object": "customer",
        "email": f"{customer}@example.com",
        "metadata": {"user_id": user_id} if user_id else {},
        "livemode": False,
    }
    if event_type == "customer.deleted":
        obj["deleted"] = True
    return envelope(event_type, obj, created)


def entitlement_summary_event(
    customer: str, lookup_keys: list[str], *, created: int | None = None, has_more: bool = False
) -> dict[str, Any]:
    """``entitlements.active_entitlement_summary.updated`` as Stripe sends it (2025 shape)."""
    entries = [
        {
            "id": new_id("ent_test"),
            "object": "entitlements.active_entitlement",
            "feature": new_id("feat_test"),
            "livemode": False,
            "lookup_key": key,
        }
        for key in lookup_keys
    ]
    summary = {
        "object": "entitlements.active_entitlement_summary",
        "customer": customer,
        "entitlements": {
            "object": "list",
            "data": entries,
            "has_more": has_more,
            "url": f"/v1/customer/{customer}/entitlements",
        },
        "livemode": False,
    }
    return envelope("entitlements.active_entitlement_summary.updated", summary, created)


def subscribed(
    customer: str, user: str | None, price: str, *, created: int, status: str = "active"
) -> list[dict[str, Any]]:
    """Checkout completed and the subscription it created: a customer on ``price``."""
    sub = new_id("sub")
    return [
        checkout_completed(customer, sub, user, created=created),
        subscription_event(
            "created",
            customer,
            sub,
            price,
            status,
            created=created,
            period_end=created + 30 * 86400,
        ),
    ]
