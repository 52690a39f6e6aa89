"""Checkout, the customer portal and invoices through the real API, with Stripe's API served
by a local Stripe-compatible server; the webhooks that follow a checkout link the user."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests import stripe_builders as build
from tests.support.pipeline import JWT_SECRET, PRICES, Pipeline
from tests.support.polling import wait_for
from tests.support.stripe_api import FakeStripeApi

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

SUCCESS_URL = "https://app.example.com/billing/success?session={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://app.example.com/pricing"
RETURN_URL = "https://app.example.com/settings/subscription"


USES_STRIPE_API = True
PIPELINE_ENV = {
    "ATLAS_CHECKOUT_SUCCESS_URL": SUCCESS_URL,
    "ATLAS_CHECKOUT_CANCEL_URL": CANCEL_URL,
    "ATLAS_PORTAL_RETURN_URL": RETURN_URL,
}


def as_user(user: str) -> dict[str, str]:
    token = jwt.encode(
        {"sub": user, "aud": "atlas-tests", "exp": int(time.time()) + 60}, JWT_SECRET, "HS256"
    )
    return {"authorization": f"Bearer {token}"}


def last_form(stripe_api: FakeStripeApi, path: str) -> dict[str, str]:
    return next(form for posted, form in reversed(stripe_api.forms) if posted == path)


def test_checkout_for_a_new_user_then_its_webhooks_link_the_user(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    user = build.new_id("user")
    with httpx.Client(base_url=pipeline.api_url, headers=as_user(user)) as client:
        response = client.post("/v1/billing/checkout", json={"plan": "pro"})
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    form = last_form(stripe_api, "/v1/checkout/sessions")
    assert form["mode"] == "subscription"
    assert form["line_items[0][price]"] == PRICES["pro"]
    assert form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == user
    assert form["subscription_data[metadata][user_id]"] == user
    assert form["success_url"] == SUCCESS_URL and form["cancel_url"] == CANCEL_URL
    assert "customer" not in form, "a new user gets a customer from Checkout"

    customer, sub = build.new_id("cus"), build.new_id("sub")
    pipeline.post_ok(build.checkout_completed(customer, sub, user))
    pipeline.post_ok(build.subscription_event("created", customer, sub, PRICES["pro"]))
    row = pipeline.wait_row(customer, plan="pro")
    assert row["user_id"] == user
    entitlements = pipeline.api.get(f"/v1/users/{user}/entitlements").json()
    assert entitlements["plan"] == "pro"


def subscribed_user(pipeline: Pipeline, price: str = PRICES["pro"]) -> tuple[str, str]:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, price, created=int(time.time()) - 60):
        pipeline.post_ok(event)
    pipeline.wait_row(customer, user_id=user)
    return customer, user


def test_checkout_reuses_the_customer_and_refuses_a_second_subscription(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    customer, user = build.new_id("cus"), build.new_id("user")
    pipeline.post_ok(build.customer_event("customer.created", customer, user_id=user))
    pipeline.wait_row(customer, plan="free")
    response = pipeline.api.post(
        "/v1/billing/checkout?redirect=true",
        json={"plan": "advisory", "user_id": user},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("https://checkout.stripe.com/")
    form = last_form(stripe_api, "/v1/checkout/sessions")
    assert form["customer"] == customer and form["line_items[0][price]"] == PRICES["advisory"]

    _, subscribed = subscribed_user(pipeline)
    again = pipeline.api.post("/v1/billing/checkout", json={"plan": "pro", "user_id": subscribed})
    assert again.status_code == 409 and again.json()["error"] == "already_subscribed"


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"plan": "free"}, 400, "invalid_request"),
        ({"plan": "platinum"}, 400, "invalid_request"),
        ({"plan": "pro", "price_id": "price_elsewhere"}, 400, "invalid_request"),
        ({"plan": "pro", "colour": "red"}, 400, "invalid_request"),
        ({"plan": "pro", "user_id": "someone-else"}, 403, "forbidden"),
    ],
)
def test_bad_checkout_requests(
    pipeline: Pipeline, body: dict[str, str], status: int, error: str
) -> None:
    with httpx.Client(base_url=pipeline.api_url, headers=as_user("checkout-user")) as client:
        response = client.post("/v1/billing/checkout", json=body)
    assert response.status_code == status and response.json()["error"] == error


def test_a_service_must_name_the_user(pipeline: Pipeline) -> None:
    response = pipeline.api.post("/v1/billing/checkout", json={"plan": "pro"})
    assert response.status_code == 400 and "user_id" in response.json()["message"]


def test_portal_opens_for_the_users_customer(pipeline: Pipeline, stripe_api: FakeStripeApi) -> None:
    customer, user = subscribed_user(pipeline)
    with httpx.Client(base_url=pipeline.api_url, headers=as_user(user)) as client:
        response = client.post("/v1/billing/portal")
        redirect = client.post(
            "/v1/billing/portal", headers={"accept": "text/html"}, follow_redirects=False
        )
    assert response.status_code == 200
    assert response.json()["url"].startswith("https://billing.stripe.com/p/session/")
    assert redirect.status_code == 303
    form = last_form(stripe_api, "/v1/billing_portal/sessions")
    assert form == {"customer": customer, "return_url": RETURN_URL}


def test_portal_without_a_customer_is_409(pipeline: Pipeline) -> None:
    with httpx.Client(base_url=pipeline.api_url, headers=as_user("never-paid")) as client:
        response = client.post("/v1/billing/portal")
    assert response.status_code == 409 and response.json()["error"] == "no_customer"


def test_invoices_for_the_users_records(pipeline: Pipeline) -> None:
    customer, user = subscribed_user(pipeline)
    sub = pipeline.row(customer)["stripe_subscription_id"]  # type: ignore[index]
    paid = build.invoice_event("invoice.paid", customer, sub, PRICES["pro"])
    pipeline.post_ok(paid)
    invoice_id = paid["data"]["object"]["id"]

    def listed() -> list[dict[str, object]] | None:
        found = pipeline.api.get(f"/v1/users/{user}/invoices").json()["invoices"]
        return found or None

    invoices = wait_for(listed, 30, "the invoice")
    assert invoices[0]["invoice_id"] == invoice_id and invoices[0]["status"] == "paid"
    assert invoices[0]["hosted_invoice_url"] and invoices[0]["amount_paid"] is not None
    with httpx.Client(base_url=pipeline.api_url, headers=as_user("someone-else")) as client:
        assert client.get(f"/v1/users/{user}/invoices").status_code == 403
