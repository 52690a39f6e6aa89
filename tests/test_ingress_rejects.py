"""Bad webhooks get the right status and error, and nothing is published or written.

"Nothing published" is checked without end offsets (tansu's are wrong): after each bad request
a valid sentinel event for the same customer is posted; it lands on the same partition after
anything the bad request could have published, so reading up to the sentinel sees everything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader, read_stripe_events_through
from tests.support.pipeline import PRICES, ROTATED_SECRET, WEBHOOK_SECRET, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

Send = Callable[[Pipeline, dict[str, Any]], Any]


def _signed(body: bytes, **kwargs: Any) -> str:
    return sign(body, WEBHOOK_SECRET, **kwargs)


def _post_raw(pipeline: Pipeline, body: bytes, signature: str | None) -> Any:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["stripe-signature"] = signature
    return pipeline.http.post("/stripe/webhook", content=body, headers=headers)


def bad_signature(p: Pipeline, e: dict[str, Any]) -> Any:
    body = orjson.dumps(e)
    return _post_raw(p, body, f"t={int(time.time())},v1={'0' * 64}")


def wrong_secret(p: Pipeline, e: dict[str, Any]) -> Any:
    body = orjson.dumps(e)
    return _post_raw(p, body, sign(body, "whsec_someone_else"))


def stale_timestamp(p: Pipeline, e: dict[str, Any]) -> Any:
    body = orjson.dumps(e)
    return _post_raw(p, body, _signed(body, timestamp=int(time.time()) - 301))


def future_timestamp(p: Pipeline, e: dict[str, Any]) -> Any:
    body = orjson.dumps(e)
    return _post_raw(p, body, _signed(body, timestamp=int(time.time()) + 301))


def missing_header(p: Pipeline, e: dict[str, Any]) -> Any:
    return _post_raw(p, orjson.dumps(e), None)


def malformed_header(p: Pipeline, e: dict[str, Any]) -> Any:
    return _post_raw(p, orjson.dumps(e), "v1=abc")


def tampered_body(p: Pipeline, e: dict[str, Any]) -> Any:
    body = orjson.dumps(e)
    signature = _signed(body)
    return _post_raw(p, body.replace(b'"active"', b'"trialing"'), signature)


def not_json(p: Pipeline, e: dict[str, Any]) -> Any:
    body = b"<xml>" + e["id"].encode() + b"</xml>"
    return _post_raw(p, body, _signed(body))


def json_not_an_event(p: Pipeline, e: dict[str, Any]) -> Any:
    body = orjson.dumps({"hello": e["id"], "customer": e["data"]["object"]["customer"]})
    return _post_raw(p, body, _signed(body))


def oversized(p: Pipeline, e: dict[str, Any]) -> Any:
    e = {**e, "padding": "x" * (1024 * 1024)}
    body = orjson.dumps(e)
    return _post_raw(p, body, _signed(body))


CASES: list[tuple[Send, int, str]] = [
    (bad_signature, 400, "invalid_signature"),
    (wrong_secret, 400, "invalid_signature"),
    (tampered_body, 400, "invalid_signature"),
    (stale_timestamp, 400, "stale_timestamp"),
    (future_timestamp, 400, "stale_timestamp"),
    (missing_header, 400, "missing_signature"),
    (malformed_header, 400, "malformed_signature"),
    (not_json, 400, "not_a_stripe_event"),
    (json_not_an_event, 400, "not_a_stripe_event"),
    (oversized, 413, "body_too_large"),
]


@pytest.mark.parametrize(("send", "status", "error"), CASES, ids=[c[0].__name__ for c in CASES])
def test_rejected_and_nothing_published_or_written(
    pipeline: Pipeline, send: Send, status: int, error: str
) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    bad = build.subscription_event("created", customer, sub, PRICES["advisory"])
    response = send(pipeline, bad)
    assert response.status_code == status
    assert response.json()["error"] == error

    sentinel = build.subscription_event(
        "created", customer, sub, PRICES["pro"], created=bad["created"] - 1
    )
    pipeline.post_ok(sentinel)
    row = pipeline.wait_row(customer, plan="pro")
    assert row["source_event_id"] == sentinel["id"]

    records = read_stripe_events_through(
        pipeline.bootstrap, pipeline.topics.stripe_events, sentinel["id"]
    )
    assert not [r for r in records if bad["id"].encode() in r.value]
    time.sleep(0.5)
    assert pipeline.row(customer)["plan"] == "pro"


def test_several_v1_entries_one_valid_is_accepted(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    event = build.subscription_event("created", customer, sub, PRICES["pro"])
    body = orjson.dumps(event)
    valid = _signed(body)
    timestamp, good = valid.split(",")
    header = f"{timestamp},v1={'f' * 64},{good},v0={'0' * 64}"
    assert _post_raw(pipeline, body, header).status_code == 200
    pipeline.wait_row(customer, plan="pro")


def test_rotated_secret_is_accepted(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    event = build.subscription_event("created", customer, sub, PRICES["pro"])
    assert pipeline.post(event, secret=ROTATED_SECRET).status_code == 200
    pipeline.wait_row(customer, plan="pro")


def test_published_record_carries_key_and_headers(pipeline: Pipeline) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    event = build.subscription_event("created", customer, sub, PRICES["pro"])
    pipeline.post_ok(event)
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.stripe_events)
    try:
        records = reader.read_until(lambda rs: any(r.key == customer.encode() for r in rs))
    finally:
        reader.close()
    [record] = [r for r in records if r.key == customer.encode()]
    assert record.value == orjson.dumps(event), "the raw payload bytes are published"
    assert record.headers["stripe-event-id"] == event["id"].encode()
    assert record.headers["stripe-event-type"] == b"customer.subscription.created"
    assert record.headers["stripe-event-created"] == str(event["created"]).encode()


def test_event_without_customer_is_keyed_by_event_id(pipeline: Pipeline) -> None:
    event = build.envelope("product.created", {"id": build.new_id("prod"), "object": "product"})
    pipeline.post_ok(event)
    reader = TopicReader(pipeline.bootstrap, pipeline.topics.stripe_events)
    try:
        reader.read_until(lambda rs: any(r.key == event["id"].encode() for r in rs))
    finally:
        reader.close()


def test_health_endpoints(pipeline: Pipeline) -> None:
    assert pipeline.http.get("/healthz").json() == {"status": "ok"}
    assert pipeline.http.get("/readyz").json() == {"status": "ready"}
    assert pipeline.http.get("/stripe/webhook").status_code == 405
