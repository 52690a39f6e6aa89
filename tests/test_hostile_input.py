"""Hostile and odd input beyond tests/test_ingress_rejects.py: a 10 MiB body (refused without
buffering it), a replayed old request, events the worker cannot use (unknown type, no
customer, unknown price), NUL characters Postgres cannot store (in a signed event, in API
bodies) — each gets the documented answer and leaves the documented trace, nothing more."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.kafka_reader import TopicReader, read_stripe_events_through
from tests.support.pipeline import PRICES, WEBHOOK_SECRET, Pipeline
from tests.support.polling import wait_for
from tests.support.raw_http import RawConnection, request_head

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

USES_STRIPE_API = True  # billing configured, so its requests get past 503 to validation
PIPELINE_ENV = {
    "ATLAS_CHECKOUT_SUCCESS_URL": "https://app.example.com/billing/success",
    "ATLAS_CHECKOUT_CANCEL_URL": "https://app.example.com/pricing",
    "ATLAS_PORTAL_RETURN_URL": "https://app.example.com/settings",
}

TEN_MIB = 10 * 1024 * 1024


def peak_rss_bytes(pid: int) -> int:
    """The process's resident-set high-water mark (VmHWM): what it ever held at once."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def metric(pipeline: Pipeline, service: str, name: str, **labels: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{pipeline.metrics_ports[service]}/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def worker_count(pipeline: Pipeline, kind: str) -> float:
    return metric(pipeline, "worker", "atlas_events_processed_total", kind=kind)


def ten_mib_event() -> bytes:
    """A signed-looking event padded to 10 MiB (its signature is never reached)."""
    event = build.subscription_event("created", build.new_id("cus"), build.new_id("sub"), "p")
    return orjson.dumps({**event, "padding": "x" * TEN_MIB})


def post_ten_mib(pipeline: Pipeline, *, declared: bool) -> dict[str, Any]:
    body = ten_mib_event()
    headers = {"content-type": "application/json", "stripe-signature": sign(body, WEBHOOK_SECRET)}
    if declared:
        headers["content-length"] = str(len(body))
        chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    else:
        headers["transfer-encoding"] = "chunked"
        chunks = [
            b"%x\r\n%s\r\n" % (len(piece), piece)
            for piece in (body[i : i + 65536] for i in range(0, len(body), 65536))
        ] + [b"0\r\n\r\n"]
    connection = RawConnection(pipeline.port)
    try:
        response = connection.stream_body(request_head("/stripe/webhook", headers), chunks)
        assert response.status == 413, response
        assert response.headers["connection"] == "close"
        assert connection.closed_by_server(5), "the rest of the body is not read"
        return response.json()
    finally:
        connection.close()


def test_a_10_mib_body_is_refused_without_buffering_it(pipeline: Pipeline) -> None:
    pipeline.post_ok(build.subscription_event("created", build.new_id("cus"), "sub_w", "p"))
    pid = pipeline.processes["ingress"].pid
    before = peak_rss_bytes(pid)
    for declared in (True, False, False, False):
        answer = post_ten_mib(pipeline, declared=declared)
        assert answer["error"] == "body_too_large"
    grown = peak_rss_bytes(pid) - before
    print(f"\npeak RSS of the ingress grew {grown / 2**20:.1f} MiB over four 10 MiB bodies")
    assert grown < 5 * 1024 * 1024, f"the ingress's peak memory grew {grown} bytes"
    pipeline.post_ok(build.subscription_event("created", build.new_id("cus"), "sub_w", "p"))


def test_a_replayed_old_request_is_refused(pipeline: Pipeline) -> None:
    """An attacker who captured a valid delivery resends it, byte for byte, later: once its
    signature timestamp is more than 300 s old it is refused and nothing is published."""
    customer, sub = build.new_id("cus"), build.new_id("sub")
    captured = build.subscription_event("created", customer, sub, PRICES["pro"])
    body = orjson.dumps(captured)
    signature = sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 297)
    headers = {"content-type": "application/json", "stripe-signature": signature}
    assert pipeline.http.post("/stripe/webhook", content=body, headers=headers).status_code == 200
    pipeline.wait_row(customer, plan="pro")

    time.sleep(4)  # the captured signature is now 301 s old
    replay = pipeline.http.post("/stripe/webhook", content=body, headers=headers)
    assert replay.status_code == 400
    assert replay.json()["error"] == "stale_timestamp"

    sentinel = build.subscription_event("updated", customer, sub, PRICES["advisory"])
    pipeline.post_ok(sentinel)
    pipeline.wait_row(customer, plan="advisory")
    records = read_stripe_events_through(
        pipeline.bootstrap, pipeline.topics.stripe_events, sentinel["id"]
    )
    assert len([r for r in records if r.value == body]) == 1, "the replay was published"


def test_an_unknown_event_type_is_acknowledged_published_and_changes_nothing(
    pipeline: Pipeline,
) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    start = int(time.time()) - 60
    pipeline.post_ok(
        build.subscription_event("created", customer, sub, PRICES["pro"], created=start)
    )
    before = pipeline.wait_row(customer, plan="pro")
    unhandled = worker_count(pipeline, "unhandled")

    unknown = build.envelope(
        "customer.subscription.reticulated",  # a type Stripe may add one day
        build.subscription_object(customer, sub, PRICES["advisory"], "canceled"),
        start + 1,
    )
    response = pipeline.post(unknown)
    assert response.status_code == 200, "Stripe must not retry it"
    assert response.json() == {"received": True, "event_id": unknown["id"]}

    records = read_stripe_events_through(
        pipeline.bootstrap, pipeline.topics.stripe_events, unknown["id"]
    )
    [record] = [r for r in records if r.headers["stripe-event-id"] == unknown["id"].encode()]
    assert record.key == customer.encode()
    wait_for(lambda: worker_count(pipeline, "unhandled") > unhandled, 30, "counted unhandled")
    assert pipeline.row(customer) == before, "an unknown type changes no row"


def test_an_event_without_a_customer_is_published_and_writes_no_row(pipeline: Pipeline) -> None:
    sub = build.new_id("sub")
    event = build.subscription_event("created", "placeholder", sub, PRICES["pro"])
    del event["data"]["object"]["customer"]
    no_customer = worker_count(pipeline, "no_customer")

    response = pipeline.post(event)
    assert response.status_code == 200
    records = read_stripe_events_through(
        pipeline.bootstrap, pipeline.topics.stripe_events, event["id"]
    )
    [record] = [r for r in records if r.headers["stripe-event-id"] == event["id"].encode()]
    assert record.key == event["id"].encode(), "keyed by its event id"
    wait_for(lambda: worker_count(pipeline, "no_customer") > no_customer, 30, "no_customer")
    rows = fetch_all(
        pipeline.database_url,
        "SELECT stripe_customer_id FROM subscriptions WHERE stripe_subscription_id = %s"
        " OR stripe_customer_id = %s",
        sub,
        event["id"],
    )
    assert rows == []


def test_an_unknown_price_is_acknowledged_and_flagged_on_the_free_tier(
    pipeline: Pipeline,
) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    start = int(time.time()) - 60
    pipeline.post_ok(
        build.subscription_event("created", customer, sub, PRICES["pro"], created=start)
    )
    pipeline.wait_row(customer, plan="pro")
    moved = build.subscription_event(
        "updated", customer, sub, "price_nobody_sells", created=start + 1
    )
    assert pipeline.post(moved).status_code == 200
    row = pipeline.wait_row(customer, unknown_price=True)
    assert (row["plan"], row["price_id"], row["features"]) == (
        "free",
        "price_nobody_sells",
        ["data-exploration"],
    )
    assert row["source_event_id"] == moved["id"]
    log = (pipeline.workdir / "worker.log").read_text()
    assert "price_nobody_sells" in log, "the worker logs an error naming the price"


def test_a_nul_in_a_signed_event_does_not_stop_the_sink(pipeline: Pipeline) -> None:
    """Postgres cannot store U+0000. A Stripe-signed event carrying one in a customer or user
    id is accepted (Stripe signed it), but the record the sink cannot write is logged, counted
    and skipped: every other customer's row still lands."""
    start = int(time.time()) - 60
    refused = metric(pipeline, "sink", "atlas_sink_rejected_records_total")
    nul_customer = build.new_id("cus") + "\x00"
    linked = build.new_id("cus")
    for event in (
        build.subscription_event("created", nul_customer, build.new_id("sub"), PRICES["pro"]),
        build.checkout_completed(linked, build.new_id("sub"), "user\x00x", created=start),
    ):
        assert pipeline.post(event).status_code == 200
    bystander = build.new_id("cus")
    pipeline.post_ok(
        build.subscription_event("created", bystander, build.new_id("sub"), PRICES["pro"])
    )
    pipeline.wait_row(bystander, plan="pro")
    wait_for(
        lambda: metric(pipeline, "sink", "atlas_sink_rejected_records_total") >= refused + 2,
        30,
        "both refused records counted",
    )
    assert pipeline.row(linked) is None
    assert "Postgres refuses a record, skipped" in (pipeline.workdir / "sink.log").read_text()


def test_the_api_refuses_nul_and_unprintable_ids_in_bodies(pipeline: Pipeline) -> None:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, PRICES["pro"], created=int(time.time()) - 60):
        pipeline.post_ok(event)
    pipeline.wait_row(customer, plan="pro", user_id=user)

    bad = {"feature": "exports", "effect": "revoke", "reason": "looks fine\x00then not"}
    answer = pipeline.api.post(f"/v1/users/{user}/overrides", json=bad)
    assert answer.status_code == 400, answer.text
    assert "NUL" in answer.json()["message"]
    for user_id in ("user\x00x", "user\nx", " padded"):
        answer = pipeline.api.post("/v1/billing/portal", json={"user_id": user_id})
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")

    good = {"feature": "exports", "effect": "revoke", "reason": "a sentinel"}
    assert pipeline.api.post(f"/v1/users/{user}/overrides", json=good).status_code == 202
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.overrides)
    try:
        records = reader.read_until(lambda rs: any(b"a sentinel" in r.value for r in rs))
    finally:
        reader.close()
    assert not [r for r in records if b"then not" in r.value], "the refused override went out"
