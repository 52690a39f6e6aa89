"""Fault test: a fleet's histories posted in order, then the same histories for fresh customers
shuffled across the whole run with 10 % of the events delivered twice: the ``subscriptions``
table ends the same, row by row and column by column, aside from the three columns that record
the arrival order rather than the state: ``updated_at``, ``source_event_id`` and ``version``.

Full size (the issue's figure: 10,000 events of 500 customers, about a minute here) by default;
``ATLAS_FLEET_EVENTS`` / ``ATLAS_FLEET_CUSTOMERS`` / ``ATLAS_FLEET_SEED`` change it, e.g.
``ATLAS_FLEET_EVENTS=40000 ATLAS_FLEET_CUSTOMERS=2000 scripts/test tests/test_shuffled_fleet.py``.
"""

from __future__ import annotations

import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from atlas.partition_reader import partition_of
from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.fleet import Fleet, fleet, new_tag, retagged
from tests.support.pipeline import PRICES, WEBHOOK_SECRET, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

EVENTS = int(os.environ.get("ATLAS_FLEET_EVENTS", "10000"))
CUSTOMERS = int(os.environ.get("ATLAS_FLEET_CUSTOMERS", "500"))
SEED = int(os.environ.get("ATLAS_FLEET_SEED", "20261125"))
DUPLICATES = 0.10
PARTITIONS = 4  # the pipeline's ATLAS_TOPIC_PARTITIONS
SENDERS = 16
IDS = ("stripe_customer_id", "user_id", "stripe_subscription_id")
# Columns that record how the row got there, not what it says (README "Ordering rule"): when
# the sink wrote it, and which arrival last changed it and the version that change took.
ARRIVAL_COLUMNS = ("updated_at", "source_event_id", "version")


def post_all(pipeline: Pipeline, sequences: list[list[bytes]]) -> None:
    """Post each sequence in order, the sequences side by side on ``SENDERS`` connections;
    like Stripe, retry whatever is not answered 200."""

    def send(sequence: list[bytes]) -> None:
        with httpx.Client(base_url=pipeline.url, timeout=30) as http:
            for body in sequence:
                for _attempt in range(20):
                    headers = {"stripe-signature": sign(body, WEBHOOK_SECRET)}
                    if http.post("/stripe/webhook", content=body, headers=headers).is_success:
                        break
                    time.sleep(0.5)
                else:
                    raise AssertionError(f"not accepted: {body[:120]!r}")

    with ThreadPoolExecutor(SENDERS) as senders:
        list(senders.map(send, sequences))


def wait_until_folded(pipeline: Pipeline, tag: str) -> None:
    """One sentinel per partition, posted after everything else: once each sentinel's row is
    in the table, every event before it on its partition has been folded and written."""
    sentinels = []
    for partition in range(PARTITIONS):
        key = next(
            f"cus_{tag}_sentinel{n}"
            for n in range(10_000)
            if partition_of(f"cus_{tag}_sentinel{n}".encode(), PARTITIONS) == partition
        )
        pipeline.post_ok(build.subscription_event("created", key, f"sub_{key}", PRICES["pro"]))
        sentinels.append(key)
    for key in sentinels:
        pipeline.wait_row(key, timeout_s=600, plan="pro")


def table_of(pipeline: Pipeline, run: Fleet, as_tag: str) -> dict[str, dict[str, Any]]:
    """The run's rows (sentinels aside), its tag replaced by ``as_tag`` in every id."""
    rows = fetch_all(
        pipeline.database_url,
        "SELECT * FROM subscriptions WHERE stripe_customer_id LIKE %s",
        f"cus\\_{run.tag}\\_%",
    )
    table = {}
    for row in rows:
        if "sentinel" in row["stripe_customer_id"]:
            continue
        for column in ARRIVAL_COLUMNS:
            del row[column]
        for column in IDS:
            if row[column] is not None:
                row[column] = row[column].replace(run.tag, as_tag)
        table[row["stripe_customer_id"]] = row
    return table


def shuffled_with_duplicates(events: list[bytes], rng: random.Random) -> list[bytes]:
    deliveries = events + rng.sample(events, k=int(len(events) * DUPLICATES))
    rng.shuffle(deliveries)
    return deliveries


def test_shuffled_and_duplicated_fleet_ends_as_the_in_order_one(pipeline: Pipeline) -> None:
    rng = random.Random(SEED + 1)  # not the fleet's own stream: its first draw is its tag
    in_order = fleet(EVENTS, CUSTOMERS, PRICES, SEED)
    shuffled = retagged(in_order, new_tag(rng))
    assert shuffled.tag != in_order.tag
    assert len(in_order.events) == EVENTS and len(in_order.histories) == CUSTOMERS

    started = time.monotonic()
    post_all(pipeline, list(in_order.histories.values()))
    wait_until_folded(pipeline, in_order.tag)
    in_order_s = time.monotonic() - started

    deliveries = shuffled_with_duplicates(shuffled.events, rng)
    started = time.monotonic()
    post_all(pipeline, [deliveries[i::SENDERS] for i in range(SENDERS)])
    wait_until_folded(pipeline, shuffled.tag)
    shuffled_s = time.monotonic() - started

    expected = table_of(pipeline, in_order, in_order.tag)
    actual = table_of(pipeline, shuffled, in_order.tag)
    assert len(expected) == CUSTOMERS
    assert actual.keys() == expected.keys()
    differing = {
        customer: {
            column: (expected[customer][column], row[column])
            for column in row
            if row[column] != expected[customer][column]
        }
        for customer, row in actual.items()
        if row != expected[customer]
    }
    assert not differing, f"{len(differing)} rows differ, e.g. {list(differing.items())[:3]}"
    print(
        f"\n{EVENTS} events of {CUSTOMERS} customers: in order {in_order_s:.1f} s, "
        f"shuffled with {len(deliveries) - EVENTS} duplicates {shuffled_s:.1f} s"
    )
