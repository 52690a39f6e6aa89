"""checkout.session.completed names a subscription no event has described: the worker fetches
it from the Stripe API (a local Stripe-compatible server here) and provisions the plan."""

from __future__ import annotations

import pytest

from tests import stripe_builders as build
from tests.support.pipeline import PRICES, Pipeline
from tests.support.stripe_api import FakeStripeApi

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


USES_STRIPE_API = True


def test_checkout_alone_provisions_from_the_api(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, sub, user = build.new_id("cus"), build.new_id("sub"), build.new_id("user")
    stripe_api.subscriptions[sub] = build.subscription_object(customer, sub, PRICES["advisory"])
    pipeline.post_ok(build.checkout_completed(customer, sub, user))
    row = pipeline.wait_row(customer, plan="advisory", user_id=user)
    assert row["stripe_subscription_id"] == sub
    assert ("GET", f"/v1/subscriptions/{sub}") in stripe_api.requests


def test_a_later_subscription_event_still_wins(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, sub, user = build.new_id("cus"), build.new_id("sub"), build.new_id("user")
    stripe_api.subscriptions[sub] = build.subscription_object(customer, sub, PRICES["pro"])
    checkout = build.checkout_completed(customer, sub, user)
    pipeline.post_ok(checkout)
    pipeline.wait_row(customer, plan="pro")
    upgrade = build.subscription_event(
        "updated", customer, sub, PRICES["advisory"], created=checkout["created"] + 1
    )
    pipeline.post_ok(upgrade)
    pipeline.wait_row(customer, plan="advisory")


def test_api_unknown_subscription_leaves_the_user_linked_on_free(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, sub, user = build.new_id("cus"), build.new_id("sub"), build.new_id("user")
    pipeline.post_ok(build.checkout_completed(customer, sub, user))
    row = pipeline.wait_row(customer, user_id=user)
    assert (row["plan"], row["status"]) == ("free", "none")
    # The subscription's own event, when it comes, provisions the plan.
    pipeline.post_ok(build.subscription_event("created", customer, sub, PRICES["pro"]))
    pipeline.wait_row(customer, plan="pro", user_id=user)
