"""Every real Stripe payload in ../shared/fixtures/stripe-events (API versions 2012-2026),
signed and posted to the running ingress, folded by the worker and written by the sink.

The payloads are read in place, never copied. Each file gets fresh customer, event and invoice
ids (so files that reuse ``cus_00000000000000`` stay independent); everything else is posted
as found. Data-only files (``{"object": …}`` without an envelope) are wrapped in one.
Expectations here are derived from the payloads by rules of this test's own, not by Atlas's
extraction code.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.kafka_reader import read_stripe_events_through
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres, pytest.mark.corpus]

CORPUS = Path(
    os.environ.get(
        "ATLAS_STRIPE_FIXTURES",
        Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "stripe-events",
    )
)
ENTITLED = {"active", "trialing", "past_due"}


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.glob("*/*.json") if not p.name.startswith("object."))


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def corpus_price_ids() -> list[str]:
    """Every price or plan id any payload mentions: all are configured as the 'pro' tier."""
    ids: set[str] = set()
    for path in corpus_files():
        for node in _walk(orjson.loads(path.read_bytes())):
            if node.get("object") in ("price", "plan") and isinstance(node.get("id"), str):
                ids.add(node["id"])
            if isinstance(node.get("price"), str) and node.get("product"):
                ids.add(node["price"])
    return sorted(ids)


def as_event(path: Path) -> dict[str, Any]:
    """The file as a webhook body with fresh ids for its customer, event and invoice."""
    raw = orjson.loads(path.read_bytes())
    if "data" not in raw:  # data-only: the source stored just the event's data member
        raw = {
            "id": "evt_",
            "object": "event",
            "type": path.name.split("__")[0],
            "created": int(time.time()) - 60,
            "data": raw,
        }
    text = orjson.dumps(raw).decode()
    obj = raw["data"]["object"]
    customer = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
    if isinstance(customer, str) and customer:
        text = text.replace(f'"{customer}"', f'"{build.new_id("cus")}"')
    if obj.get("object") == "invoice" and isinstance(obj.get("id"), str):
        text = text.replace(f'"{obj["id"]}"', f'"{build.new_id("in")}"')
    event = orjson.loads(text)
    event["id"] = build.new_id("evt")
    return event


def _customer(event: dict[str, Any]) -> str | None:
    obj = event["data"]["object"]
    value = obj.get("id") if obj.get("object") == "customer" else obj.get("customer")
    return value if isinstance(value, str) else None


def _bills_a_subscription(invoice: dict[str, Any]) -> bool:
    if invoice.get("subscription"):
        return True
    if ((invoice.get("parent") or {}).get("subscription_details") or {}).get("subscription"):
        return True
    lines = invoice.get("lines") or {}
    if isinstance(lines, dict) and lines.get("subscriptions"):
        return True
    return any(
        line.get("type") == "subscription"
        or line.get("subscription")
        or ((line.get("parent") or {}).get("subscription_item_details") or {}).get("subscription")
        for line in (lines.get("data") or [] if isinstance(lines, dict) else [])
    )


def _period_end(sub: dict[str, Any]) -> int | None:
    ends = [sub.get("current_period_end")] + [
        item.get("current_period_end") for item in (sub.get("items") or {}).get("data", [])
    ]
    known = [end for end in ends if isinstance(end, int)]
    return max(known) if known else None


def expected_row(event: dict[str, Any]) -> dict[str, Any] | None:
    """What the subscriptions row must hold after this one event, or None for no claim."""
    kind, obj = event["type"], event["data"]["object"]
    if kind.startswith("customer.subscription."):
        status = "canceled" if kind.endswith(".deleted") else obj["status"]
        end = _period_end(obj)
        keeps_plan = status in ENTITLED and not (
            obj.get("cancel_at_period_end") and end is not None and end <= time.time()
        )
        ended_later = status == "canceled" and end is not None and end > time.time()
        expected = {"stripe_status": status, "plan": "pro" if keeps_plan or ended_later else "free"}
        if obj.get("id"):
            expected["stripe_subscription_id"] = obj["id"]
        return expected
    if kind == "customer.deleted":
        return {"status": "canceled", "plan": "free"}
    if kind == "invoice.payment_failed" and _bills_a_subscription(obj):
        return {"status": "past_due"}
    if kind in ("invoice.payment_succeeded", "invoice.paid") and _bills_a_subscription(obj):
        return {"status": "active"}
    return None


@pytest.fixture(scope="module")
def pipeline(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    prices = ",".join([PRICES["pro"], *corpus_price_ids()])
    workdir = tmp_path_factory.mktemp("corpus")
    running = Pipeline(kafka_bootstrap, database_url, workdir, STRIPE_PRICE_ID_PRO=prices).start()
    yield running
    running.stop()


FILES = corpus_files()


@pytest.mark.skipif(not FILES, reason=f"no Stripe fixture corpus at {CORPUS}")
@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_real_payload_through_the_pipeline(pipeline: Pipeline, path: Path) -> None:
    event = as_event(path)
    response = pipeline.post(event)
    assert response.status_code == 200, response.text

    customer = _customer(event)
    key = (customer or event["id"]).encode()
    records = read_stripe_events_through(
        pipeline.bootstrap, pipeline.topics.stripe_events, event["id"]
    )
    [record] = [r for r in records if r.headers["stripe-event-id"] == event["id"].encode()]
    assert record.key == key
    assert record.headers["stripe-event-type"] == event["type"].encode()

    expected = expected_row(event)
    if expected is not None:
        assert customer is not None
        pipeline.wait_row(customer, **expected)
    obj = event["data"]["object"]
    if event["type"].startswith("invoice.") and obj.get("id") and customer:
        [invoice] = wait_for(
            lambda: fetch_all(
                pipeline.database_url,
                "SELECT * FROM invoices WHERE stripe_invoice_id = %s",
                obj["id"],
            ),
            30,
            f"invoice {obj['id']} in the invoices table",
        )
        assert invoice["stripe_customer_id"] == customer
        assert invoice["status"] == obj.get("status")
