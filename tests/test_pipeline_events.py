"""Each handled event type, signed, posted over HTTP to the running ingress, lands in the
``subscriptions`` table and on ``atlas.entitlements.changes``."""

from __future__ import annotations

import time

import orjson
import pytest

from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PRO_FEATURES = ["api-access", "data-exploration", "exports", "team-seats"]


def changes_for(pipeline: Pipeline, customer: str, count: int) -> list[dict]:
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.entitlement_changes)
    try:
        reader.read_until(
            lambda rs: sum(r.key == customer.encode() for r in rs) >= count, timeout_s=30
        )
        reader.poll_for(1.0)  # anything extra would show up now
        return [orjson.loads(r.value) for r in reader.records if r.key == customer.encode()]
    finally:
        reader.close()


@pytest.mark.parametrize("shape", ["legacy", "classic", "dahlia"])
def test_subscription_created_provisions_the_plan(pipeline: Pipeline, shape: str) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    pipeline.post_ok(build.subscription_event("created", customer, sub, PRICES["pro"], shape=shape))

    row = pipeline.wait_row(customer, plan="pro")
    assert row["status"] == "active"
    assert row["stripe_subscription_id"] == sub
    assert row["features"] == PRO_FEATURES
    assert row["feature_bits"] == 0b1111
    assert row["limits"]["team-seats"] == 5
    assert row["current_period_end"] is not None
    [change] = changes_for(pipeline, customer, 1)
    assert change["plan"] == "pro"
    assert change["granted"] == PRO_FEATURES
    assert change["revoked"] == []


def test_subscription_updated_changes_tier_and_cancel_flag(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    now = int(time.time())
    pipeline.post_ok(
        build.subscription_event("created", customer, sub, PRICES["pro"], created=now - 10)
    )
    pipeline.post_ok(
        build.subscription_event(
            "updated", customer, sub, PRICES["advisory"], created=now, cancel_at_period_end=True
        )
    )
    row = pipeline.wait_row(customer, plan="advisory")
    assert row["cancel_at_period_end"] is True
    assert "advisory-sessions" in row["features"]
    changes = changes_for(pipeline, customer, 2)
    assert [c["plan"] for c in changes] == ["pro", "advisory"]
    assert changes[1]["granted"] == ["advisory-sessions", "priority-support"]


def test_checkout_links_the_user(pipeline: Pipeline) -> None:
    customer, sub, user = build.new_id("cus"), build.new_id("sub"), build.new_id("user")
    now = int(time.time())
    pipeline.post_ok(build.checkout_completed(customer, sub, user, created=now))
    pipeline.post_ok(build.subscription_event("created", customer, sub, PRICES["pro"], created=now))
    row = pipeline.wait_row(customer, plan="pro", user_id=user)
    assert row["stripe_subscription_id"] == sub


def test_checkout_user_from_metadata(pipeline: Pipeline) -> None:
    customer, sub, user = build.new_id("cus"), build.new_id("sub"), build.new_id("user")
    pipeline.post_ok(build.subscription_event("created", customer, sub, PRICES["pro"]))
    pipeline.post_ok(build.checkout_completed(customer, sub, user, via_metadata=True))
    pipeline.wait_row(customer, plan="pro", user_id=user)


@pytest.mark.parametrize("shape", ["classic", "dahlia"])
def test_payment_failed_keeps_features_with_banner(pipeline: Pipeline, shape: str) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    now = int(time.time())
    pipeline.post_ok(
        build.subscription_event(
            "created", customer, sub, PRICES["pro"], created=now - 5, shape=shape
        )
    )
    pipeline.post_ok(
        build.invoice_event(
            "invoice.payment_failed", customer, sub, PRICES["pro"], created=now, shape=shape
        )
    )
    row = pipeline.wait_row(customer, status="past_due")
    assert row["plan"] == "pro"
    assert row["features"] == PRO_FEATURES
    assert row["banner"] == "past_due"
    assert row["stripe_status"] == "active"


@pytest.mark.parametrize("event_type", ["invoice.payment_succeeded", "invoice.paid"])
def test_payment_succeeded_clears_past_due_and_logs_invoice(
    pipeline: Pipeline, event_type: str
) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    now = int(time.time())
    pipeline.post_ok(
        build.subscription_event("created", customer, sub, PRICES["pro"], created=now - 10)
    )
    pipeline.post_ok(
        build.invoice_event("invoice.payment_failed", customer, sub, PRICES["pro"], created=now - 5)
    )
    pipeline.wait_row(customer, status="past_due")
    paid = build.invoice_event(event_type, customer, sub, PRICES["pro"], created=now)
    pipeline.post_ok(paid)
    row = pipeline.wait_row(customer, status="active")
    assert row["banner"] is None
    invoice_id = paid["data"]["object"]["id"]
    from tests.support.database import fetch_all
    from tests.support.polling import wait_for

    [invoice] = wait_for(
        lambda: fetch_all(
            pipeline.database_url, "SELECT * FROM invoices WHERE stripe_invoice_id = %s", invoice_id
        ),
        30,
        "invoice row",
    )
    assert invoice["status"] == "paid"
    assert invoice["amount_paid"] == 2900
    assert invoice["stripe_customer_id"] == customer


def test_subscription_deleted_with_past_period_end_drops_to_free(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    now = int(time.time())
    pipeline.post_ok(
        build.subscription_event("created", customer, sub, PRICES["pro"], created=now - 10)
    )
    pipeline.wait_row(customer, plan="pro")
    pipeline.post_ok(
        build.subscription_event(
            "deleted", customer, sub, PRICES["pro"], "canceled", created=now, period_end=now - 1
        )
    )
    row = pipeline.wait_row(customer, plan="free", status="canceled")
    assert row["features"] == ["data-exploration"]
    changes = changes_for(pipeline, customer, 2)
    assert changes[-1]["revoked"] == ["api-access", "exports", "team-seats"]


def test_deleted_keeps_paid_features_until_period_end_then_timer_drops(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    now = int(time.time())
    pipeline.post_ok(
        build.subscription_event(
            "deleted", customer, sub, PRICES["pro"], "canceled", created=now, period_end=now + 4
        )
    )
    row = pipeline.wait_row(customer, status="canceled")
    assert row["plan"] == "pro", "paid features stay until the period end"
    # No further event: the worker's timer drops the customer at the period end.
    pipeline.wait_row(customer, plan="free", timeout_s=30)


def test_unknown_price_gets_free_tier_and_is_flagged(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    pipeline.post_ok(build.subscription_event("created", customer, sub, "price_nobody_configured"))
    row = pipeline.wait_row(customer, unknown_price=True)
    assert row["plan"] == "free"
    assert row["price_id"] == "price_nobody_configured"


def test_customer_deleted_drops_to_free(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    now = int(time.time())
    pipeline.post_ok(
        build.subscription_event("created", customer, sub, PRICES["pro"], created=now - 5)
    )
    pipeline.wait_row(customer, plan="pro")
    pipeline.post_ok(build.customer_event("customer.deleted", customer, created=now))
    pipeline.wait_row(customer, plan="free", status="canceled")


def test_unhandled_event_type_is_acknowledged(pipeline: Pipeline) -> None:
    customer = build.new_id("cus")
    event = build.envelope(
        "customer.tax_id.created",
        {"id": build.new_id("txi"), "object": "tax_id", "customer": customer},
    )
    response = pipeline.post(event)
    assert response.status_code == 200
    assert response.json() == {"received": True, "event_id": event["id"]}
