"""``atlas reconcile`` and ``atlas backfill``: read Stripe's current subscriptions (and, for a
backfill, customers) from the Stripe API, report where Atlas differs, and publish them to
``stripe.events`` as reconciliation events so the pipeline heals (see atlas/stripe_view.py)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

import orjson

from api import queries
from atlas.customer_lookup import resolve_customer
from atlas.kafka_produce import CommandProducer
from atlas.kafka_topics import ensure_topics
from atlas.services import current_catalog
from atlas.settings import Settings, SettingsError, load_settings
from atlas.stripe_client import stripe_client
from atlas.stripe_view import (
    RECONCILE_CUSTOMER,
    RECONCILE_SUBSCRIPTION,
    as_events,
    customer_of,
    customers,
    expected_entitlements,
    reconcile_event,
    subscriptions,
)
from schemas.topics import EVENT_CREATED_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER, Topics
from sinks.database import async_engine


async def _rows(settings: Settings, customer_ids: list[str]) -> dict[str, Any] | None:
    if not settings.database_url:
        return None
    engine = async_engine(settings.database_url)
    try:
        return await queries.rows_for_customers(engine, customer_ids)
    finally:
        await engine.dispose()


def _drift(settings: Settings, events: dict[str, list[dict[str, Any]]]) -> list[str] | None:
    """One line per customer whose Atlas row disagrees with Stripe (plan or status);
    ``None`` without DATABASE_URL (nothing to compare with)."""
    rows = asyncio.run(_rows(settings, sorted(events)))
    if rows is None:
        return None
    catalog = current_catalog(settings)
    lines = []
    for customer_id, raw in sorted(events.items()):
        stripe = expected_entitlements(customer_id, as_events(raw), catalog)
        row = rows.get(customer_id)
        atlas = (row["plan"], row["status"]) if row else ("no row", "-")
        if atlas != (stripe.plan, stripe.status):
            lines.append(
                f"{customer_id}: Atlas {atlas[0]}/{atlas[1]}, Stripe {stripe.plan}/{stripe.status}"
            )
    return lines


def run_reconcile(
    customer: str | None, user: str | None, everything: bool, dry_run: bool, backfill: bool
) -> int:
    settings = load_settings()
    client = stripe_client(settings)
    if client is None:
        raise SettingsError("STRIPE_SECRET_KEY is not set: reconciling reads the Stripe API")
    topics = Topics.with_prefix(settings.topic_prefix)
    ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topic_partitions)
    if user is not None:
        customer, _ = resolve_customer(settings, user, None)
    read_at_ms = int(time.time() * 1000)
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if backfill:
        for obj in customers(client):
            events[customer_of(obj)].append(reconcile_event(obj, RECONCILE_CUSTOMER, read_at_ms))
    for obj in subscriptions(client, None if everything or backfill else customer):
        events[customer_of(obj)].append(reconcile_event(obj, RECONCILE_SUBSCRIPTION, read_at_ms))
    if customer is not None and not events:
        print(f"Stripe lists no subscription for {customer}")
    count = sum(len(raw) for raw in events.values())
    print(f"read {count} object(s) of {len(events)} customer(s) from Stripe")
    drift = _drift(settings, events)
    if drift is None:
        print("DATABASE_URL unset: drift not measured")
    else:
        print(f"drift: {len(drift)} customer(s) differ from Stripe")
        for line in drift:
            print(f"  {line}")
    if dry_run:
        print("--dry-run: nothing published")
        return 0
    producer = CommandProducer(settings.kafka_bootstrap_servers, settings.publish_timeout_s * 4)
    for customer_id, raw_events in events.items():
        for raw in raw_events:
            headers: list[tuple[str, str | bytes | None]] = [
                (EVENT_ID_HEADER, raw["id"].encode()),
                (EVENT_TYPE_HEADER, raw["type"].encode()),
                (EVENT_CREATED_HEADER, str(raw["created"]).encode()),
            ]
            producer.send(
                topics.stripe_events, orjson.dumps(raw), customer_id.encode(), None, headers
            )
    producer.flush()
    print(f"published {count} reconciliation event(s) to {topics.stripe_events}")
    return 0
