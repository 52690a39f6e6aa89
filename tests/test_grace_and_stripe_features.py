"""Past-due grace periods from the catalog, enforced by the worker's timer, and plans whose
features come from Stripe's entitlement summaries (every page of them)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline
from tests.support.stripe_api import FakeStripeApi

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

MANAGED_PRICE = "price_test_managed"
DAY = 86_400
FREE = ["data-exploration"]
PRO = ["api-access", "data-exploration", "exports", "team-seats"]
MANAGED_PLAN = f"""
[plans.managed]
rank = 3
features_from = "stripe"
price_ids = ["{MANAGED_PRICE}"]

[plans.managed.limits]
api-access = 500
"""


USES_STRIPE_API = True


def PIPELINE_ENV(workdir: Path) -> dict[str, str]:  # the name tests/conftest.py reads
    """The default catalog plus a plan whose features come from Stripe."""
    catalog = workdir / "catalog.toml"
    default = resources.files("atlas").joinpath("default_catalog.toml").read_text()
    catalog.write_text(default + MANAGED_PLAN)
    return {"ATLAS_CATALOG": str(catalog)}


def subscribe(pipeline: Pipeline, price: str, created: int) -> tuple[str, str]:
    customer = build.new_id("cus")
    checkout, subscription = build.subscribed(
        customer, build.new_id("user"), price, created=created
    )
    pipeline.post_ok(checkout)
    pipeline.post_ok(subscription)
    return customer, subscription["data"]["object"]["id"]


def fail_payment(pipeline: Pipeline, customer: str, sub: str, created: int) -> None:
    event = build.invoice_event(
        "invoice.payment_failed", customer, sub, PRICES["pro"], created=created
    )
    pipeline.post_ok(event)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_a_failed_payment_keeps_the_plan_until_grace_ends(pipeline: Pipeline) -> None:
    now = int(time.time())
    customer, sub = subscribe(pipeline, PRICES["pro"], now - 3600)
    fail_payment(pipeline, customer, sub, now - 60)
    row = pipeline.wait_row(customer, status="past_due")
    assert row["plan"] == "pro" and row["features"] == PRO and row["banner"] == "past_due"
    assert row["grace_until"] == at(now - 60 + 7 * DAY)
    api = pipeline.api.get(f"/v1/customers/{customer}/entitlements").json()
    assert api["grace_until"] == at(now - 60 + 7 * DAY).isoformat().replace("+00:00", "Z")
    # a retry that fails again does not move the start of the grace period
    fail_payment(pipeline, customer, sub, now - 30)
    time.sleep(1.5)
    assert pipeline.row(customer)["grace_until"] == at(now - 60 + 7 * DAY)  # type: ignore[index]


def test_grace_ends_with_no_new_event_then_a_payment_restores_the_plan(pipeline: Pipeline) -> None:
    now = int(time.time())
    customer, sub = subscribe(pipeline, PRICES["pro"], now - 8 * DAY)
    first_failure = now - 7 * DAY + 6  # the grace ends six seconds from now
    fail_payment(pipeline, customer, sub, first_failure)
    during = pipeline.wait_row(customer, status="past_due")
    assert during["plan"] == "pro" and during["features"] == PRO
    ended = pipeline.wait_row(customer, status="past_due", plan="free", timeout_s=30)
    assert time.time() >= first_failure + 7 * DAY
    assert ended["features"] == FREE and ended["banner"] == "past_due"
    assert ended["grace_until"] == at(first_failure + 7 * DAY)

    paid = build.invoice_event(
        "invoice.payment_succeeded", customer, sub, PRICES["pro"], created=int(time.time())
    )
    pipeline.post_ok(paid)
    restored = pipeline.wait_row(customer, status="active")
    assert restored["plan"] == "pro" and restored["features"] == PRO
    assert restored["grace_until"] is None and restored["banner"] is None


def changes_of(pipeline: Pipeline, customer: str) -> list[dict[str, Any]]:
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.entitlement_changes)
    try:
        reader.poll_for(2.0)
        return [orjson.loads(r.value) for r in reader.records if r.key == customer.encode()]
    finally:
        reader.close()


def test_stripe_managed_plan_takes_exactly_the_summary_features(pipeline: Pipeline) -> None:
    now = int(time.time())
    customer, _ = subscribe(pipeline, MANAGED_PRICE, now - 120)
    before = pipeline.wait_row(customer, plan="managed")
    assert before["features"] == [], "no summary yet: nothing granted"

    summary = build.entitlement_summary_event(
        customer, ["exports", "api-access", "not-in-catalog"], created=now - 60
    )
    pipeline.post_ok(summary)
    row = pipeline.wait_row(customer, features=["api-access", "exports"])
    assert row["limits"] == {"api-access": 500}

    pipeline.post_ok(build.entitlement_summary_event(customer, ["exports"], created=now - 30))
    row = pipeline.wait_row(customer, features=["exports"])
    assert row["limits"] == {}
    last = changes_of(pipeline, customer)[-1]
    assert last["granted"] == [] and last["revoked"] == ["api-access"]

    stale = build.entitlement_summary_event(customer, ["team-seats"], created=now - 90)
    pipeline.post_ok(stale)
    time.sleep(1.5)
    assert pipeline.row(customer)["features"] == ["exports"]  # type: ignore[index]


def test_a_summary_with_more_pages_is_read_in_full_from_the_api(
    pipeline: Pipeline, stripe_api: FakeStripeApi
) -> None:
    now = int(time.time())
    customer, _ = subscribe(pipeline, MANAGED_PRICE, now - 120)
    pipeline.wait_row(customer, plan="managed")
    every = ["data-exploration", "exports", "api-access", "team-seats", "advisory-sessions"]
    stripe_api.entitlements[customer] = every * 25  # 125 entries: two pages of 100
    pipeline.post_ok(
        build.entitlement_summary_event(customer, every[:1], created=now - 60, has_more=True)
    )
    row = pipeline.wait_row(customer, features=sorted(every))
    assert row["limits"] == {"api-access": 500}
    pages = [path for _, path in stripe_api.requests if customer in path]
    assert len(pages) == 2 and "starting_after" in pages[1]
