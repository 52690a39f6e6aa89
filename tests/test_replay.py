"""`atlas replay --to-earliest` empties the worker's table and rebuilds every customer from
`stripe.events` and `atlas.overrides`: after full lifecycles of several customers (and an
override), the `subscriptions` table rebuilt from scratch is identical, version for version."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests import stripe_builders as build
from tests.support.database import execute, fetch_all
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for
from tests.test_lifecycle import lifecycle

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CUSTOMERS = 6


def table(pipeline: Pipeline) -> list[dict[str, Any]]:
    rows = fetch_all(pipeline.database_url, "SELECT * FROM subscriptions ORDER BY 1")
    for row in rows:
        del row["updated_at"]
    return rows


def settled(pipeline: Pipeline, expected: int) -> list[dict[str, Any]]:
    """The table once it has ``expected`` rows and stopped changing for two seconds."""

    def stable() -> list[dict[str, Any]] | None:
        first = table(pipeline)
        time.sleep(2)
        second = table(pipeline)
        return second if len(second) == expected and first == second else None

    return wait_for(stable, 90, f"{expected} settled rows")


def test_replay_from_earliest_rebuilds_an_identical_table(pipeline: Pipeline) -> None:
    start = int(time.time()) - 600
    customers = []
    for number in range(CUSTOMERS):
        customer, user = build.new_id("cus"), build.new_id("user")
        events = lifecycle(customer, user, start + number)
        if number % 2:  # half of them stay subscribed: drop the deletion
            events = events[:-1]
        for event in events:
            pipeline.post_ok(event)
        customers.append((customer, user))
    past_due, _ = customers[1]
    sub = "sub_lifecycle_" + past_due
    pipeline.post_ok(
        build.invoice_event(
            "invoice.payment_failed", past_due, sub, PRICES["advisory"], created=start + 100
        )
    )
    granted = pipeline.cli(
        "grant", "--customer", customers[3][0], "--feature", "priority-support", "--limit", "1",
        "--reason", "replay test",
    )  # fmt: skip
    assert granted.returncode == 0, granted.stderr
    before = settled(pipeline, CUSTOMERS)
    assert {row["plan"] for row in before} == {"free", "advisory"}
    assert any("priority-support" in row["features"] for row in before)

    pipeline.stop_service("worker")
    dry = pipeline.cli("replay", "--to-earliest", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "rebuild: generation 0" in dry.stdout and "-> 1" in dry.stdout
    assert "nothing changed" in dry.stdout

    execute(pipeline.database_url, "TRUNCATE subscriptions")  # every row must be rebuilt
    replayed = pipeline.cli("replay", "--to-earliest", "--reason", "test")
    assert replayed.returncode == 0, replayed.stderr
    pipeline.start_service("worker")

    after = settled(pipeline, CUSTOMERS)
    assert after == before
    worker_log = (pipeline.workdir / "worker.log").read_text()
    assert "worker group and state: " + pipeline.prefix + "atlas-worker-r1" in worker_log


def test_replay_to_offsets_checks_its_input(pipeline: Pipeline) -> None:
    unknown = pipeline.cli("replay", "--to-offsets", "99=0", "--dry-run")
    assert unknown.returncode == 2 and "no partition(s) [99]" in unknown.stderr
    malformed = pipeline.cli("replay", "--to-offsets", "zero", "--dry-run")
    assert malformed.returncode == 2 and "PARTITION=OFFSET" in malformed.stderr
    explicit = pipeline.cli("replay", "--to-offsets", "0=1", "--dry-run")
    assert explicit.returncode == 0, explicit.stderr
    assert "stripe.events[0]: committed" in explicit.stdout and "-> 1" in explicit.stdout
