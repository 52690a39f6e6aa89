"""Fault: the worker is SIGKILLed three times in the middle of a burst, each time restarted at
once while the burst goes on. Nothing may be lost and nothing applied twice: every acknowledged
event is on ``stripe.events``, every customer's row is what folding their events in order
gives, and a consumer applying the documented version rule sees each change once, in order,
never going backwards.

``ATLAS_FAULT_ROUNDS=20 scripts/test tests/test_worker_sigkill_burst.py`` repeats the round
(new customers each time, same services) to measure how often restarts go wrong.
"""

from __future__ import annotations

import os
import random
import signal
import time
from typing import Any

import orjson
import pytest

from atlas.services import current_catalog
from atlas.settings import load_settings
from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.in_order import InOrder, apply_by_version, fold_in_order
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CUSTOMERS = 80
BURST_SECONDS = 24.0  # three kills, each followed by a start-up (about 3 s) with events arriving
KILLS_AT = (1 / 6, 1 / 2, 5 / 6)  # of the burst, give or take a twelfth
ROUNDS = int(os.environ.get("ATLAS_FAULT_ROUNDS", "1"))


def story(customer: str, kind: int, start: int) -> list[dict[str, Any]]:
    """One customer's events, a second apart, oldest first (four kinds of history)."""
    sub, user = build.new_id("sub"), build.new_id("u")
    pro, advisory = PRICES["pro"], PRICES["advisory"]
    steps: list[Any]
    if kind == 0:  # pays, fails, recovers, upgrades
        steps = [
            lambda t: build.customer_event("customer.created", customer, created=t, user_id=user),
            lambda t: build.subscription_event("created", customer, sub, pro, created=t),
            lambda t: build.invoice_event("invoice.created", customer, sub, pro, created=t),
            lambda t: build.invoice_event("invoice.payment_failed", customer, sub, pro, created=t),
            lambda t: build.invoice_event(
                "invoice.payment_succeeded", customer, sub, pro, created=t
            ),
            lambda t: build.subscription_event("updated", customer, sub, advisory, created=t),
        ]
    elif kind == 1:  # trial, converts, pays, cancels (keeps the plan until the period end)
        steps = [
            lambda t: build.subscription_event(
                "created", customer, sub, advisory, "trialing", created=t
            ),
            lambda t: build.subscription_event("updated", customer, sub, advisory, created=t),
            lambda t: build.invoice_event("invoice.paid", customer, sub, advisory, created=t),
            lambda t: build.subscription_event(
                "deleted", customer, sub, advisory, "canceled", created=t
            ),
        ]
    elif kind == 2:  # Checkout first, then a subscription that slides into dunning
        steps = [
            lambda t: build.checkout_completed(customer, sub, user, created=t),
            lambda t: build.subscription_event("created", customer, sub, pro, created=t),
            lambda t: build.invoice_event("invoice.payment_failed", customer, sub, pro, created=t),
            lambda t: build.invoice_event("invoice.payment_failed", customer, sub, pro, created=t),
            lambda t: build.subscription_event("updated", customer, sub, pro, "unpaid", created=t),
            lambda t: build.customer_event("customer.deleted", customer, created=t),
        ]
    else:  # 2026 shapes, set to cancel at period end, an event type Atlas does not fold
        steps = [
            lambda t: build.subscription_event(
                "created", customer, sub, pro, created=t, shape="dahlia"
            ),
            lambda t: build.envelope(
                "charge.succeeded",
                {"id": build.new_id("ch"), "object": "charge", "customer": customer},
                t,
            ),
            lambda t: build.subscription_event(
                "updated", customer, sub, pro, created=t, shape="dahlia", cancel_at_period_end=True
            ),
            lambda t: build.customer_event("customer.updated", customer, created=t, user_id=user),
            lambda t: build.invoice_event(
                "invoice.payment_failed", customer, sub, pro, created=t, shape="dahlia"
            ),
        ]
    return [step(start + number) for number, step in enumerate(steps)]


def post_until_acknowledged(pipeline: Pipeline, event: dict[str, Any]) -> None:
    """As Stripe does: a webhook not answered 200 is sent again."""
    for _ in range(20):
        if pipeline.post(event).status_code == 200:
            return
        time.sleep(0.5)
    raise AssertionError(f"event {event['id']} was never acknowledged\n{pipeline.logs()}")


def burst_with_kills(pipeline: Pipeline, events: list[dict[str, Any]], kills: set[int]) -> None:
    """Post ``events`` evenly over BURST_SECONDS; before each event numbered in ``kills``,
    SIGKILL the worker and start a new one at once, so events keep arriving while it starts."""
    started = time.monotonic()
    for number, event in enumerate(events):
        if number in kills:
            pipeline.stop_service("worker", signal.SIGKILL)
            pipeline.start_service("worker")
        time.sleep(max(0.0, started + number * BURST_SECONDS / len(events) - time.monotonic()))
        post_until_acknowledged(pipeline, event)


def rows_of(pipeline: Pipeline, customers: list[str]) -> dict[str, dict[str, Any]]:
    rows = fetch_all(
        pipeline.database_url,
        "SELECT * FROM subscriptions WHERE stripe_customer_id = ANY(%s)",
        customers,
    )
    return {
        row["stripe_customer_id"]: {k: v for k, v in row.items() if k != "updated_at"}
        for row in rows
    }


def wait_for_rows(pipeline: Pipeline, expected: dict[str, InOrder], timeout_s: float) -> list[str]:
    """Customers whose row is not (yet) the in-order result when the deadline passes."""
    customers = list(expected)
    deadline = time.monotonic() + timeout_s
    while True:
        rows = rows_of(pipeline, customers)
        wrong = [c for c in customers if rows.get(c) != expected[c].row]
        if not wrong or time.monotonic() > deadline:
            return [f"{c}: row {rows.get(c)}\n  in order {expected[c].row}" for c in wrong]
        time.sleep(0.5)


def records_by_key(
    pipeline: Pipeline, topic: str, done: Any, timeout_s: float = 30
) -> dict[bytes, list[bytes]]:
    reader = TopicReader(pipeline.bootstrap, topic)
    try:
        reader.read_until(lambda records: done(records), timeout_s)
        reader.poll_for(1.0)  # a late redelivery must be a copy too
    finally:
        reader.close()
    by_key: dict[bytes, list[bytes]] = {}
    for record in sorted(reader.records, key=lambda r: (r.partition, r.offset)):
        by_key.setdefault(record.key or b"", []).append(record.value)
    return by_key


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_sigkill_mid_burst_loses_nothing_and_applies_nothing_twice(
    pipeline: Pipeline, round_number: int
) -> None:
    chance = random.Random(round_number)
    start = int(time.time()) - 600
    customers = [build.new_id("cus") for _ in range(CUSTOMERS)]
    histories = {c: story(c, number % 4, start) for number, c in enumerate(customers)}
    # Round-robin over customers: each customer's events stay in order and are spread over
    # the whole burst, kills and start-ups included.
    longest = max(len(events) for events in histories.values())
    burst = [h[step] for step in range(longest) for h in histories.values() if step < len(h)]
    jitter = len(burst) // 12
    kills = {int(len(burst) * at) + chance.randint(-jitter, jitter) for at in KILLS_AT}

    settings = load_settings(pipeline.env)
    catalog = current_catalog(settings)
    now = int(time.time())
    expected = {c: fold_in_order(catalog, histories[c], now) for c in customers}
    assert all(e.row is not None and e.changes for e in expected.values())

    burst_with_kills(pipeline, burst, kills)

    wrong = wait_for_rows(pipeline, expected, timeout_s=45)
    assert not wrong, "\n".join([*wrong, pipeline.logs()])

    acknowledged = {str(event["id"]).encode() for event in burst}
    stored_events = records_by_key(
        pipeline,
        pipeline.topics.stripe_events,
        lambda rs: acknowledged <= {r.headers.get("stripe-event-id") for r in rs},
    )
    stored_ids = {
        orjson.loads(value)["id"].encode()
        for customer in customers
        for value in stored_events.get(customer.encode(), [])
    }
    assert stored_ids == acknowledged

    finals = {(c.encode(), expected[c].changes[-1]["version"]) for c in customers}
    changes = records_by_key(
        pipeline,
        pipeline.topics.entitlement_changes,
        lambda rs: finals <= {(r.key, orjson.loads(r.value)["version"]) for r in rs},
    )
    for customer in customers:
        raw = [orjson.loads(value) for value in changes.get(customer.encode(), [])]
        assert apply_by_version(raw) == expected[customer].changes, customer
