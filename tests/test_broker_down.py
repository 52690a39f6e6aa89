"""Broker unreachable: the ingress answers 503 with Retry-After and nothing is lost; once the
broker is back, Stripe's retry of the same event is accepted and processed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas.embedded import EmbeddedKafka, free_port
from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
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


def test_a_burst_across_a_broker_outage_loses_nothing(proxied: tuple[Pipeline, TcpProxy]) -> None:
    """Every webhook of a burst is answered 200 or 503; retrying the 503s as Stripe does gets
    every event onto stripe.events exactly once and every customer to the right row."""
    pipeline, proxy = proxied
    warm = build.new_id("cus")  # the worker is up and reading before the outage starts
    pipeline.post_ok(build.subscription_event("created", warm, build.new_id("sub"), PRICES["pro"]))
    pipeline.wait_row(warm, plan="pro")
    events = []
    for _ in range(60):
        customer, sub = build.new_id("cus"), build.new_id("sub")
        events.append(build.subscription_event("created", customer, sub, PRICES["advisory"]))
    answers: dict[str, int] = {}
    for number, event in enumerate(events):
        if number == 20:
            proxy.cut()
        if number == 40:
            proxy.restore()
        answers[str(event["id"])] = pipeline.post(event).status_code
    assert set(answers.values()) <= {200, 503}
    assert 503 in answers.values() and 200 in answers.values()

    for event in events:  # Stripe retries what was not acknowledged
        if answers[str(event["id"])] == 503:
            wait_for(lambda e=event: pipeline.post(e).status_code == 200, 60, "a retry accepted")
    for event in events:
        pipeline.wait_row(str(event["data"]["object"]["customer"]), plan="advisory", timeout_s=60)

    posted = {str(event["id"]).encode() for event in events}
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.stripe_events)
    try:
        records = reader.read_until(
            lambda rs: posted <= {r.headers.get("stripe-event-id") for r in rs}
        )
    finally:
        reader.close()
    stored = {r.headers.get("stripe-event-id") for r in records} & posted
    # at least once: an event acknowledged late may be stored twice; folding drops the copy
    assert stored == posted
