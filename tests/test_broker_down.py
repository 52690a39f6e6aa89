"""Broker unreachable: the ingress answers 503 with Retry-After and nothing is lost; once the
broker is back, Stripe's retry of the same event is accepted and processed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas.embedded import EmbeddedKafka, free_port
from tests import stripe_builders as build
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def proxied(database_url: str, tmp_path: Path) -> Iterator[tuple[Pipeline, TcpProxy]]:
    proxy_port = free_port()
    with EmbeddedKafka(log_path=tmp_path / "tansu.log", advertised_port=proxy_port) as broker:
        proxy = TcpProxy(proxy_port, broker.port).start()
        pipeline = Pipeline(broker.bootstrap, database_url, tmp_path).start()
        try:
            yield pipeline, proxy
        finally:
            pipeline.stop()
            proxy.close()


def test_broker_down_503_then_retry_is_processed(proxied: tuple[Pipeline, TcpProxy]) -> None:
    pipeline, proxy = proxied
    warm = build.new_id("cus")
    pipeline.post_ok(build.subscription_event("created", warm, build.new_id("sub"), PRICES["pro"]))
    pipeline.wait_row(warm, plan="pro")

    customer, sub = build.new_id("cus"), build.new_id("sub")
    event = build.subscription_event("created", customer, sub, PRICES["advisory"])
    proxy.cut()
    try:
        response = pipeline.post(event)
        assert response.status_code == 503
        assert response.headers["retry-after"].isdigit()
        assert response.json()["error"] == "broker_unavailable"
        assert pipeline.http.get("/readyz").status_code == 503
        assert pipeline.http.get("/healthz").status_code == 200
    finally:
        proxy.restore()

    # Stripe retries: keep posting the same event until it is accepted, as Stripe would.
    wait_for(
        lambda: pipeline.post(event).status_code == 200, 60, "the retried event to be accepted"
    )
    pipeline.wait_row(customer, plan="advisory", timeout_s=60)
