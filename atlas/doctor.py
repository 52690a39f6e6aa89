"""``atlas doctor USER_OR_CUSTOMER``: the runbook of "I upgraded but still see the free tier"
in one command. It compares four views of one customer, each the input of the next:

1. Stripe: the customer's subscriptions read from the Stripe API, as Atlas would derive them;
2. received: every event for the customer on ``stripe.events`` (and their overrides), folded
   here the way the worker folds them;
3. worker: the customer's latest record on ``atlas.entitlements`` (what the stream made);
4. Atlas: the ``subscriptions`` row, which the API and the client library serve.

The first pair that disagrees names the stage that is behind, and the fix.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from atlas.catalog import Catalog
from atlas.customer_inputs import received_overrides, received_records, worker_output
from atlas.customer_lookup import customer_row, resolve_customer
from atlas.services import current_catalog
from atlas.settings import Settings, load_settings
from atlas.stripe_client import stripe_client
from atlas.stripe_view import RECONCILE_SUBSCRIPTION, as_events, reconcile_event, subscriptions
from schemas.entitlements import Entitlements
from schemas.overrides import Override
from schemas.stripe_event import StripeEvent
from schemas.subscription_state import CustomerState
from schemas.topics import Topics
from streams.derive import derive
from streams.fold import apply_override, fold

RECENT_EVENTS_SHOWN = 8


@dataclass(frozen=True)
class View:
    plan: str
    status: str
    features: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.plan}/{self.status} [{', '.join(self.features)}]"


def view_of(entitlements: Entitlements) -> View:
    return View(entitlements.plan, entitlements.status, tuple(entitlements.features))


@dataclass(frozen=True)
class StripeReading:
    """The customer's subscriptions as the Stripe API lists them, and what they derive to."""

    subscriptions: list[dict[str, Any]]
    view: View


def read_stripe(settings: Settings, customer: str, catalog: Catalog) -> StripeReading | None:
    """Stripe's view of ``customer``; ``None`` when ``STRIPE_SECRET_KEY`` is unset. Raises
    :class:`~atlas.stripe_view.StripeUnavailable` when Stripe does not answer."""
    client = stripe_client(settings)
    if client is None:
        return None
    read_at_ms = int(time.time() * 1000)
    subs = list(subscriptions(client, customer))
    raw = [reconcile_event(sub, RECONCILE_SUBSCRIPTION, read_at_ms) for sub in subs]
    state = CustomerState(customer_id=customer)
    for event in as_events(raw):
        fold(state, event)
    return StripeReading(subs, view_of(derive(state, catalog, read_at_ms // 1000, 0).entitlements))


def received_view(
    customer: str,
    events: Sequence[StripeEvent],
    overrides: Sequence[Override],
    catalog: Catalog,
) -> View:
    """What the worker should make of the events and overrides Atlas received, folded here."""
    state = CustomerState(customer_id=customer)
    for event in events:
        fold(state, event)
    for override in overrides:
        apply_override(state, override)
    return view_of(derive(state, catalog, int(time.time()), 0).entitlements)


def _print_stripe(reading: StripeReading | None) -> None:
    if reading is None:
        print("Stripe:   not asked (STRIPE_SECRET_KEY unset)")
        return
    for sub in reading.subscriptions[:3]:
        items = sub.get("items", {}).get("data", [])
        prices = [str((item.get("price") or {}).get("id")) for item in items]
        print(f"Stripe:   {sub['id']} {sub['status']} prices {prices}")
    if not reading.subscriptions:
        print("Stripe:   no subscription")
    print(f"          derives to {reading.view}")


def _print_events(events: list[StripeEvent]) -> None:
    print(f"received: {len(events)} event(s) on stripe.events; the latest:")
    for event in events[-RECENT_EVENTS_SHOWN:]:
        at = datetime.fromtimestamp(event.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        print(f"            {at}Z {event.type:45} {event.id}")


def verdict(
    stripe: View | None,
    received: View,
    worker: Entitlements | None,
    row: dict[str, Any] | None,
    customer: str,
) -> tuple[bool, str]:
    """(in sync, what to say)."""
    if stripe is not None and (stripe.plan, stripe.status) != (received.plan, received.status):
        return False, (
            f"Stripe is ahead of Atlas: Stripe says {stripe.plan}/{stripe.status}, the events "
            f"Atlas received say {received.plan}/{received.status} — webhooks were not delivered "
            "(or were rejected: check the ingress log and Stripe's webhook attempts).\n"
            f"fix: atlas reconcile --customer {customer}"
        )
    if worker is None or view_of(worker) != received:
        return False, (
            "the worker is behind: it has not applied every event it received "
            f"({'no output yet' if worker is None else view_of(worker)}).\n"
            "fix: check that `atlas worker` runs and its log; if it runs and stays behind, "
            "`atlas replay --to-earliest` rebuilds its state"
        )
    if row is None or row["version"] < worker.version:
        return False, (
            "the sink is behind: the worker's result is not in Postgres yet.\n"
            "fix: check that `atlas sink` runs and reaches Postgres (its log says)"
        )
    return True, "in sync: Stripe, the events, the worker and the row agree"


def run_doctor(target: str) -> int:
    settings = load_settings(need_database=True)
    topics = Topics.with_prefix(settings.topic_prefix)
    if target.startswith("cus_"):
        customer, user = target, None
    else:
        customer, user = resolve_customer(settings, target, None)
    print(f"customer: {customer}" + (f" (user {user})" if user else ""))
    catalog = current_catalog(settings)
    reading = read_stripe(settings, customer, catalog)
    _print_stripe(reading)
    records = received_records(settings, topics, customer)
    events = [record.event for record in records if record.event is not None]
    overrides = received_overrides(settings, topics, customer)
    received = received_view(customer, events, overrides, catalog)
    _print_events(events)
    print(f"          fold to {received}")
    worker = worker_output(settings, topics, customer)
    print(
        f"worker:   {view_of(worker) if worker else 'no output'}"
        + (f" version {worker.version}" if worker else "")
    )
    row = asyncio.run(customer_row(settings, None, customer))
    if row is None:
        print("Atlas:    no subscriptions row")
    else:
        view = View(row["plan"], row["status"], tuple(row["features"]))
        updated = f"{row['updated_at']:%Y-%m-%d %H:%M:%S}Z"
        print(f"Atlas:    {view} version {row['version']}, updated {updated}")
        print("clients:  serve that row (the API reads it; instances follow the change topic)")
    stripe = reading.view if reading else None
    in_sync, text = verdict(stripe, received, worker, row, customer)
    print(f"\nverdict:  {text}")
    return 0 if in_sync else 1
