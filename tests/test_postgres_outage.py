"""Postgres unreachable for 30 s while events flow: the sink backs off and retries, commits
no offset it has not written, and once Postgres is back the table is complete and right —
nothing lost, nothing applied twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from atlas.embedded import free_port
from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

OUTAGE_S = 30
DEFAULT_PG_PORT = 5432


def proxied(database_url: str, workdir: Path) -> tuple[TcpProxy, str]:
    """A proxy in front of the database, and the URL that goes through it."""
    url = make_url(database_url)
    socket_dir = url.query.get("host")
    port = url.port or DEFAULT_PG_PORT
    if isinstance(socket_dir, str) and socket_dir.startswith("/"):
        listen_dir = workdir / "pg-proxy"
        listen_dir.mkdir()
        proxy = TcpProxy(str(listen_dir / f".s.PGSQL.{port}"), f"{socket_dir}/.s.PGSQL.{port}")
        through = url.update_query_dict({"host": str(listen_dir)})
    else:
        listen = free_port()
        proxy = TcpProxy(listen, port)
        through = url.set(host="127.0.0.1", port=listen)
    return proxy.start(), through.render_as_string(hide_password=False)


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
