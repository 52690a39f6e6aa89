"""A webhook is lost: `atlas doctor` says Stripe is ahead and names the fix, `atlas reconcile`
heals it from the Stripe API (a local Stripe-compatible server), and the doctor then says in
sync. Backfill brings in customers Atlas never heard of; a stopped worker is diagnosed."""

from __future__ import annotations

import time

import pytest

from tests import stripe_builders as build
from tests.support.pipeline import PRICES, Pipeline
from tests.support.stripe_api import FakeStripeApi

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


USES_STRIPE_API = True


def known_customer(pipeline: Pipeline, stripe_api: FakeStripeApi) -> tuple[str, str, str]:
    """A pro customer whose webhooks Atlas received, and whom Stripe lists the same way."""
    customer, user, sub = build.new_id("cus"), build.new_id("user"), build.new_id("sub")
    created = int(time.time()) - 120
    subscription = build.subscription_object(
        customer, sub, PRICES["pro"], period_end=created + 30 * 86400, metadata={"user_id": user}
    )
    stripe_api.subscriptions[sub] = subscription
    pipeline.post_ok(build.checkout_completed(customer, sub, user, created=created))
    pipeline.post_ok(build.envelope("customer.subscription.created", subscription, created))
    pipeline.wait_row(customer, plan="pro")
    return customer, user, sub


def test_a_lost_upgrade_is_diagnosed_then_reconciled(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, user, sub = known_customer(pipeline, stripe_api)
    healthy = pipeline.cli("doctor", user)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "in sync" in healthy.stdout

    # The user upgrades in Stripe; the webhook never reaches Atlas.
    stripe_api.subscriptions[sub] = build.subscription_object(
        customer, sub, PRICES["advisory"], metadata={"user_id": user}
    )
    lost = pipeline.cli("doctor", customer)
    assert lost.returncode == 1
    assert "Stripe is ahead of Atlas: Stripe says advisory/active" in lost.stdout
    assert f"fix: atlas reconcile --customer {customer}" in lost.stdout

    dry = pipeline.cli("reconcile", "--customer", customer, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "drift: 1 customer(s) differ from Stripe" in dry.stdout
    assert f"{customer}: Atlas pro/active, Stripe advisory/active" in dry.stdout
    assert "nothing published" in dry.stdout
    time.sleep(1.5)
    assert pipeline.row(customer)["plan"] == "pro"  # type: ignore[index]

    healed = pipeline.cli("reconcile", "--user", user)
    assert healed.returncode == 0, healed.stderr
    assert "published 1 reconciliation event(s)" in healed.stdout
    pipeline.wait_row(customer, plan="advisory")
    fixed = pipeline.cli("doctor", user)
    assert fixed.returncode == 0 and "in sync" in fixed.stdout, fixed.stdout

    again = pipeline.cli("reconcile", "--customer", customer, "--dry-run")
    assert "drift: 0 customer(s)" in again.stdout


def test_a_late_webhook_still_wins_over_an_older_reconcile(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, _, sub = known_customer(pipeline, stripe_api)
    assert pipeline.cli("reconcile", "--customer", customer).returncode == 0
    later = build.subscription_event(
        "updated", customer, sub, PRICES["advisory"], created=int(time.time()) + 5
    )
    pipeline.post_ok(later)
    pipeline.wait_row(customer, plan="advisory")


def test_backfill_brings_in_customers_atlas_never_heard_of(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, user, sub = build.new_id("cus"), build.new_id("user"), build.new_id("sub")
    stripe_api.customers[customer] = {
        "id": customer, "object": "customer", "email": "x@example.com",
        "metadata": {"user_id": user}, "livemode": False,
    }  # fmt: skip
    stripe_api.subscriptions[sub] = build.subscription_object(customer, sub, PRICES["advisory"])
    free_only, free_user = build.new_id("cus"), build.new_id("user")
    stripe_api.customers[free_only] = {
        "id": free_only, "object": "customer", "metadata": {"user_id": free_user},
        "livemode": False,
    }  # fmt: skip
    result = pipeline.cli("backfill")
    assert result.returncode == 0, result.stderr
    assert f"{customer}: Atlas no row/-, Stripe advisory/active" in result.stdout
    row = pipeline.wait_row(customer, plan="advisory")
    assert row["user_id"] == user
    pipeline.wait_row(free_only, plan="free", status="none", user_id=free_user)


def test_a_stopped_worker_is_diagnosed(pipeline: Pipeline, stripe_api: FakeStripeApi) -> None:
    customer, user, sub = known_customer(pipeline, stripe_api)
    pipeline.stop_service("worker")
    try:
        stripe_api.subscriptions[sub] = build.subscription_object(
            customer, sub, PRICES["advisory"], metadata={"user_id": user}
        )
        pipeline.post_ok(build.subscription_event("updated", customer, sub, PRICES["advisory"]))
        behind = pipeline.cli("doctor", customer)
        assert behind.returncode == 1
        assert "the worker is behind" in behind.stdout, behind.stdout
    finally:
        pipeline.start_service("worker")
    pipeline.wait_row(customer, plan="advisory", timeout_s=60)


def test_doctor_and_reconcile_refuse_unknown_users(pipeline: Pipeline) -> None:
    for args in (["doctor", "nobody-known"], ["reconcile", "--user", "nobody-known"]):
        result = pipeline.cli(*args)
        assert result.returncode == 2
        assert "no Stripe customer known to Atlas" in result.stderr
