"""Stripe's own view of customers, read from the Stripe API, as reconciliation events.

A reconciliation event is a Stripe object wrapped like a webhook: type
``atlas.reconcile.subscription`` or ``atlas.reconcile.customer``, ``created`` = when it was
read, id ``evt_atlas_reconcile_…``. The worker folds it like the webhook for that object (see
``streams/fold.py``); as it is stamped with the time it was read, it supersedes every older
event and loses to every later one, so it heals what missed webhooks left behind and never
undoes a newer change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import stripe

from atlas.catalog import Catalog
from atlas.errors import AtlasError
from schemas.entitlements import Entitlements
from schemas.stripe_event import StripeEvent, event_from_mapping
from schemas.subscription_state import CustomerState
from streams.derive import derive
from streams.fold import fold

RECONCILE_SUBSCRIPTION = "atlas.reconcile.subscription"
RECONCILE_CUSTOMER = "atlas.reconcile.customer"
PAGE_SIZE = 100


class StripeUnavailable(AtlasError):
    """The Stripe API refused or did not answer; the message says why."""


def _every(listing: Any) -> Iterator[dict[str, Any]]:
    try:
        for item in listing.auto_paging_iter():
            yield item.to_dict()
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"the Stripe API failed: {exc.user_message or exc}") from None


def subscriptions(client: stripe.StripeClient, customer: str | None) -> Iterator[dict[str, Any]]:
    """Every subscription (all statuses, every page), of one customer or of the account."""
    params: dict[str, Any] = {"status": "all", "limit": PAGE_SIZE}
    if customer is not None:
        params["customer"] = customer
    yield from _every(_list(lambda: client.v1.subscriptions.list(params)))  # type: ignore[arg-type]


def customers(client: stripe.StripeClient) -> Iterator[dict[str, Any]]:
    yield from _every(_list(lambda: client.v1.customers.list({"limit": PAGE_SIZE})))


def _list(call: Any) -> Any:
    try:
        return call()
    except stripe.StripeError as exc:
        raise StripeUnavailable(f"the Stripe API failed: {exc.user_message or exc}") from None


def reconcile_event(obj: dict[str, Any], event_type: str, read_at_ms: int) -> dict[str, Any]:
    """``obj`` as the event the worker folds; ids stay unique per object and read."""
    return {
        "id": f"evt_atlas_reconcile_{obj['id']}_{read_at_ms}",
        "object": "event",
        "type": event_type,
        "created": read_at_ms // 1000,
        "data": {"object": obj},
        "livemode": bool(obj.get("livemode", False)),
        "api_version": None,
        "request": {"id": None, "idempotency_key": None},
    }


def customer_of(obj: dict[str, Any]) -> str:
    customer = obj.get("customer") if obj.get("object") != "customer" else obj.get("id")
    if isinstance(customer, dict):
        customer = customer.get("id")
    return str(customer)


def expected_entitlements(
    customer_id: str, events: list[StripeEvent], catalog: Catalog, now: int | None = None
) -> Entitlements:
    """What Atlas derives from ``events`` alone, in order (no overrides)."""
    state = CustomerState(customer_id=customer_id)
    for event in sorted(events, key=lambda event: event.created):
        fold(state, event)
    return derive(state, catalog, now or int(time.time()), state.version).entitlements


def as_events(raw_events: list[dict[str, Any]]) -> list[StripeEvent]:
    return [event_from_mapping(raw) for raw in raw_events]
