"""A restarted worker resumes from its table (restored from the changelog) and its committed
offsets: state folded before the restart still decides what later events do."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import orjson
import pytest

from tests import stripe_builders as build
from tests.support.in_order import apply_by_version
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
def rocksdb_pipeline(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """RocksDB keeps the table on disk across restarts. On tansu, whose high watermark is short,
    Faust's consistency check would refuse the persisted offsets (see README)."""
    workdir = tmp_path_factory.mktemp("rocksdb")
    running = Pipeline(
        kafka_bootstrap,
        database_url,
        workdir,
        ATLAS_WORKER_STORE="rocksdb://",
        ATLAS_RECOVERY_CONSISTENCY_CHECK="false",
    ).start()
    yield running
    running.stop()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["term", "kill"])
def test_state_survives_a_worker_restart(pipeline: Pipeline, stop_signal: int) -> None:
    restart_keeps_state(pipeline, stop_signal)


def test_rocksdb_state_survives_a_killed_worker(rocksdb_pipeline: Pipeline) -> None:
    restart_keeps_state(rocksdb_pipeline, signal.SIGKILL)


def restart_keeps_state(pipeline: Pipeline, stop_signal: int) -> None:
    customers = [build.new_id("cus") for _ in range(30)]
    now = int(time.time())
    for customer in customers:
        sub = "sub_" + customer
        created = build.subscription_event(
            "created", customer, sub, PRICES["pro"], created=now - 20
        )
        pipeline.post_ok(created)
        failed = build.invoice_event(
            "invoice.payment_failed", customer, sub, PRICES["pro"], created=now - 10
        )
        pipeline.post_ok(failed)
    for customer in customers:
        pipeline.wait_row(customer, status="past_due")

    pipeline.stop_service("worker", stop_signal)
    pipeline.start_service("worker")  # the events below arrive while it starts

    # Only folded state can tell that this late 'advisory' snapshot is older than what the
    # customer already has: a worker that lost its table would switch them to advisory.
    for customer in customers:
        sub = "sub_" + customer
        stale = build.subscription_event(
            "updated", customer, sub, PRICES["advisory"], created=now - 30
        )
        pipeline.post_ok(stale)
        paid = build.invoice_event(
            "invoice.payment_succeeded", customer, sub, PRICES["pro"], created=now
        )
        pipeline.post_ok(paid)
    for customer in customers:
        row = pipeline.wait_row(customer, status="active", timeout_s=60)
        assert row["plan"] == "pro", "a stale event overwrote state the restart lost"

    reader = TopicReader(pipeline.bootstrap, pipeline.topics.entitlement_changes)
    try:
        reader.poll_for(2.0)
    finally:
        reader.close()
    for customer in customers:
        changes = [orjson.loads(r.value) for r in reader.records if r.key == customer.encode()]
        # A SIGKILL replays uncommitted events, which may announce a change again (same
        # version): a consumer applying the version rule sees each change once.
        statuses = [(c["plan"], c["status"]) for c in apply_by_version(changes)]
        expected = [("pro", "active"), ("pro", "past_due"), ("pro", "active")]
        assert statuses == expected, (customer, statuses)
