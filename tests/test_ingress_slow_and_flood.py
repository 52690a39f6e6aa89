"""Slow clients and floods: the ingress times out what arrives too slowly, does not let idle
connections starve everyone else, and under a flood stays up, answers every request with 200
or 503 (Stripe retries), and has every event it answered 200 for on ``stripe.events``.

The limits are lowered here so the tests are quick: a 2 s header deadline, 64 connections,
8 webhooks in flight (defaults: 10 s, 4096, 256).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, WEBHOOK_SECRET, Pipeline
from tests.support.raw_http import RawConnection, request_head

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

HEADER_TIMEOUT_S = 2
MAX_CONNECTIONS = 64
MAX_IN_FLIGHT = 8
BODY_TIMEOUT_S = 10  # ingress.app.BODY_READ_TIMEOUT_S
PIPELINE_ENV = {
    "ATLAS_HEADER_TIMEOUT": str(HEADER_TIMEOUT_S),
    "ATLAS_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
    "ATLAS_MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
}


def test_headers_trickled_byte_by_byte_get_408_and_the_connection_closed(
    pipeline: Pipeline,
) -> None:
    connection = RawConnection(pipeline.port)
    try:
        started = time.monotonic()
        connection.send(b"POST /stripe/webhook HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        for byte in b"x-slow-header: " * 4:  # a byte every 0.2 s: never idle, never done
            if not connection.send(bytes([byte])) or connection.closed_by_server(0.2):
                break
        assert connection.closed_by_server(HEADER_TIMEOUT_S + 2)
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 2
        response = connection.response(timeout_s=0.1)
        assert (response.status, response.json()["error"]) == (408, "request_timeout")
    finally:
        connection.close()


def test_a_body_trickled_byte_by_byte_gets_408_while_others_are_served(
    pipeline: Pipeline,
) -> None:
    body = orjson.dumps(build.subscription_event("created", "cus_slow", "sub_slow", "p"))
    head = request_head(
        "/stripe/webhook",
        {"content-length": str(len(body)), "stripe-signature": sign(body, WEBHOOK_SECRET)},
    )
    connection = RawConnection(pipeline.port)
    stop = threading.Event()

    def trickle() -> None:
        for byte in body:
            if stop.wait(0.25) or not connection.send(bytes([byte])):
                return

    try:
        started = time.monotonic()
        connection.send(head)
        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        customer = build.new_id("cus")
        pipeline.post_ok(build.subscription_event("created", customer, "sub_x", PRICES["pro"]))
        pipeline.wait_row(customer, plan="pro")
        response = connection.response(timeout_s=BODY_TIMEOUT_S + 5)
        elapsed = time.monotonic() - started
        assert (response.status, response.json()["error"]) == (408, "body_timeout")
        assert BODY_TIMEOUT_S - 1 < elapsed < BODY_TIMEOUT_S + 3
        assert connection.closed_by_server(2)
    finally:
        stop.set()
        connection.close()


def test_idle_connections_are_closed_and_do_not_starve_a_webhook(pipeline: Pipeline) -> None:
    idle = [RawConnection(pipeline.port) for _ in range(MAX_CONNECTIONS + 16)]
    try:
        time.sleep(0.2)
        customer = build.new_id("cus")
        event = build.subscription_event("created", customer, "sub_idle", PRICES["pro"])
        started = time.monotonic()
        answers: list[int] = []
        while time.monotonic() - started < HEADER_TIMEOUT_S + 8:
            answers.append(pipeline.post(event).status_code)  # Stripe retries until 2xx
            if answers[-1] == 200:
                break
            time.sleep(0.25)
        assert answers[-1] == 200, f"starved: {Counter(answers)}"
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 3
        assert set(answers) <= {200, 503}
        assert all(c.closed_by_server(HEADER_TIMEOUT_S + 2) for c in idle)
        assert all(c.received == b"" for c in idle), "an idle connection is closed silently"
        pipeline.wait_row(customer, plan="pro")
    finally:
        for connection in idle:
            connection.close()


def overloaded_count(pipeline: Pipeline) -> float:
    for family in text_string_to_metric_families(pipeline.http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "atlas_webhooks_total" and sample.labels == {"outcome": "overloaded"}:
                return sample.value
    return 0.0


async def flood(pipeline: Pipeline, clients: int, per_client: int) -> list[tuple[str, int, str]]:
    """``clients`` connections each posting ``per_client`` distinct events back to back:
    (event id, status, error code) of every answer."""
    results: list[tuple[str, int, str]] = []

    async def client(http: httpx.AsyncClient) -> None:
        for _ in range(per_client):
            event = build.subscription_event(
                "created", build.new_id("cus"), build.new_id("sub"), PRICES["pro"]
            )
            body = orjson.dumps(event)
            headers = {"stripe-signature": sign(body, WEBHOOK_SECRET)}
            response = await http.post("/stripe/webhook", content=body, headers=headers)
            code = response.json().get("error", "") if response.status_code != 200 else ""
            if response.status_code == 503:
                assert response.headers["retry-after"].isdigit()
            results.append((event["id"], response.status_code, code))

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=pipeline.url, limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return results


def test_a_flood_is_answered_and_every_accepted_event_is_stored(pipeline: Pipeline) -> None:
    refused_before = overloaded_count(pipeline)
    results = asyncio.run(flood(pipeline, clients=48, per_client=25))

    statuses = Counter((status, code) for _, status, code in results)
    assert set(statuses) <= {(200, ""), (503, "overloaded"), (503, "broker_unavailable")}
    assert statuses[(503, "overloaded")] > 0, f"the admission limit never engaged: {statuses}"
    assert statuses[(200, "")] > 0
    assert overloaded_count(pipeline) - refused_before == statuses[(503, "overloaded")]
    assert pipeline.processes["ingress"].poll() is None, "the ingress died"
    assert pipeline.http.get("/healthz").status_code == 200

    accepted = {event_id.encode() for event_id, status, _ in results if status == 200}
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.stripe_events)
    try:
        records = reader.read_until(
            lambda rs: accepted <= {r.headers["stripe-event-id"] for r in rs}, timeout_s=60
        )
    finally:
        reader.close()
    assert accepted <= {r.headers["stripe-event-id"] for r in records}

    customer = build.new_id("cus")
    pipeline.post_ok(build.subscription_event("created", customer, "sub_after", PRICES["pro"]))
    pipeline.wait_row(customer, plan="pro")
    print(f"flood answers: {dict(statuses)}")
