"""A customer's whole lifecycle through the running pipeline, in order, shuffled and
duplicated: the final row is the same and no change event is emitted twice."""

from __future__ import annotations

import random
import time
from typing import Any

import orjson
import pytest

from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

COMPARED = (
    "plan",
    "status",
    "stripe_status",
    "features",
    "feature_bits",
    "limits",
    "banner",
    "cancel_at_period_end",
    "current_period_end",
    "unknown_price",
    "price_id",
)


def lifecycle(customer: str, user: str, start: int) -> list[dict[str, Any]]:
    """created (pro) → payment failed → payment succeeded → upgraded (advisory) → deleted."""
    sub = "sub_lifecycle_" + customer
    period_end = start + 30 * 86400
    return [
        build.checkout_completed(customer, sub, user, created=start),
        build.subscription_event(
            "created", customer, sub, PRICES["pro"], created=start, period_end=period_end
        ),
        build.invoice_event(
            "invoice.payment_failed", customer, sub, PRICES["pro"], created=start + 10
        ),
        build.invoice_event(
            "invoice.payment_succeeded", customer, sub, PRICES["pro"], created=start + 20
        ),
        build.subscription_event(
            "updated", customer, sub, PRICES["advisory"], created=start + 30, period_end=period_end
        ),
        build.subscription_event(
            "deleted",
            customer,
            sub,
            PRICES["advisory"],
            "canceled",
            created=start + 40,
            period_end=start + 35,
        ),
    ]


def changes_of(pipeline: Pipeline, customer: str, settle_s: float = 2.0) -> list[dict[str, Any]]:
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.entitlement_changes)
    try:
        reader.poll_for(settle_s)
        return [orjson.loads(r.value) for r in reader.records if r.key == customer.encode()]
    finally:
        reader.close()


def test_full_lifecycle_in_order(pipeline: Pipeline) -> None:
    customer, user = build.new_id("cus"), build.new_id("user")
    start = int(time.time()) - 120
    events = lifecycle(customer, user, start)
    checkout, created, failed, succeeded, upgraded, deleted = events

    pipeline.post_ok(checkout)
    pipeline.post_ok(created)
    pipeline.wait_row(customer, plan="pro", status="active", user_id=user)

    pipeline.post_ok(failed)
    row = pipeline.wait_row(customer, status="past_due")
    assert row["plan"] == "pro" and row["banner"] == "past_due"
    assert "exports" in row["features"], "features stay during past_due"

    pipeline.post_ok(succeeded)
    row = pipeline.wait_row(customer, status="active")
    assert row["banner"] is None

    pipeline.post_ok(upgraded)
    row = pipeline.wait_row(customer, plan="advisory")
    assert "advisory-sessions" in row["features"]

    pipeline.post_ok(deleted)
    row = pipeline.wait_row(customer, plan="free", status="canceled")
    assert row["features"] == ["data-exploration"]
    assert row["stripe_status"] == "canceled"

    plans = [(c["plan"], c["status"]) for c in changes_of(pipeline, customer)]
    # Checkout alone links the user before any subscription event: known, on the free tier.
    assert plans == [
        ("free", "none"),
        ("pro", "active"),
        ("pro", "past_due"),
        ("pro", "active"),
        ("advisory", "active"),
        ("free", "canceled"),
    ]


def test_shuffled_and_duplicated_events_give_the_in_order_row(pipeline: Pipeline) -> None:
    start = int(time.time()) - 120
    in_order, shuffled = build.new_id("cus"), build.new_id("cus")
    user = build.new_id("user")
    for event in lifecycle(in_order, user, start):
        pipeline.post_ok(event)
    expected = pipeline.wait_row(in_order, plan="free", status="canceled")

    rng = random.Random(7)
    events = lifecycle(shuffled, user, start)
    deliveries = events + rng.sample(events, k=4)  # four events delivered twice
    rng.shuffle(deliveries)
    for event in deliveries:
        pipeline.post_ok(event)
    # Wait until every event of the shuffled customer has been folded: the row carries the
    # id of the event that last changed it, and the deletion is the newest.
    pipeline.wait_row(shuffled, plan="free", status="canceled", user_id=user)
    time.sleep(1.0)  # let any straggler (a wrong late overwrite) land before comparing
    actual = pipeline.row(shuffled)
    assert actual is not None
    assert {k: actual[k] for k in COMPARED} == {k: expected[k] for k in COMPARED}

    changes = changes_of(pipeline, shuffled)
    versions = [c["version"] for c in changes]
    assert len(versions) == len(set(versions)), "a change event was emitted twice"
    assert versions == sorted(versions)
    views = [
        {k: v for k, v in c["entitlements"].items() if k not in ("version", "source_event_id")}
        for c in changes
    ]
    unchanged = [a for a, b in zip(views, views[1:], strict=False) if a == b]
    assert not unchanged, "a change event changed nothing"


def test_replaying_every_event_changes_nothing(pipeline: Pipeline) -> None:
    customer, user = build.new_id("cus"), build.new_id("user")
    events = lifecycle(customer, user, int(time.time()) - 120)
    for event in events:
        pipeline.post_ok(event)
    before = pipeline.wait_row(customer, plan="free", status="canceled")
    count = len(changes_of(pipeline, customer))

    for event in events:  # Stripe redelivers everything
        pipeline.post_ok(event)
    time.sleep(2.0)
    assert len(changes_of(pipeline, customer)) == count
    after = pipeline.row(customer)
    assert after == before
