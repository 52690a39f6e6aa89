"""Postgres unreachable for 30 s while events flow: the sink backs off and retries, commits
no offset it has not written, and once Postgres is back the table is complete and right —
nothing lost, nothing applied twice."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for
from tests.support.tcp_proxy import TcpProxy, proxied

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

OUTAGE_S = 30


@pytest.fixture(scope="module")
def outage(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Pipeline, TcpProxy]]:
    workdir = tmp_path_factory.mktemp("pg-outage")
    proxy, through = proxied(database_url, workdir)
    running = Pipeline(kafka_bootstrap, through, workdir).start()
    yield running, proxy
    running.stop()
    proxy.close()


def test_the_sink_rides_out_a_postgres_outage(
    outage: tuple[Pipeline, TcpProxy], database_url: str
) -> None:
    pipeline, proxy = outage
    start = int(time.time()) - 300
    expected: dict[str, str] = {}
    for number in range(40):  # before, during and after the outage
        customer, sub = build.new_id("cus"), build.new_id("sub")
        tier = "advisory" if number % 3 == 0 else "pro"
        created = build.subscription_event("created", customer, sub, PRICES["pro"], created=start)
        pipeline.post_ok(created)
        if tier == "advisory":
            upgraded = build.subscription_event(
                "updated", customer, sub, PRICES["advisory"], created=start + 1
            )
            pipeline.post_ok(upgraded)
        expected[customer] = tier
        if number == 10:
            proxy.cut()
            cut_at = time.monotonic()
        if 10 <= number < 39:
            time.sleep(OUTAGE_S / 30)
    while time.monotonic() - cut_at < OUTAGE_S:
        time.sleep(0.5)
    rows_during = fetch_all(database_url, "SELECT count(*) AS n FROM subscriptions")[0]["n"]
    proxy.restore()

    def complete() -> list[dict[str, object]] | None:
        rows = fetch_all(
            database_url, "SELECT stripe_customer_id, plan FROM subscriptions ORDER BY 1"
        )
        return rows if len(rows) == len(expected) else None

    rows = wait_for(complete, 90, "every row after the outage")
    assert {row["stripe_customer_id"]: row["plan"] for row in rows} == expected
    assert rows_during <= 11, "nothing was written while Postgres was unreachable"
    sink_log = (pipeline.workdir / "sink.log").read_text()
    assert "Postgres write failed, retrying" in sink_log
