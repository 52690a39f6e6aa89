"""A poison record — one whose processing crashes (here: a `created` so far ahead that the
entitlement version overflows 64 bits) — goes to `stripe.events.dlq` with its origin and
reason; the customer's partition keeps flowing; `atlas dlq list` shows it and `atlas dlq
replay` sends it back. The ingress refuses such an event at the door. The services run with
JSON logs here, and the lines about the event carry its id."""

from __future__ import annotations

import time

import orjson
import pytest

from atlas.kafka_produce import CommandProducer
from schemas.topics import EVENT_ID_HEADER, EVENT_TYPE_HEADER
from tests import stripe_builders as build
from tests.support.kafka_reader import TopicReader
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

FAR_AHEAD = 2**44  # year ~560,000: version = created << 20 needs more than 64 bits


PIPELINE_ENV = {"ATLAS_LOG_FORMAT": "json"}


def json_lines(pipeline: Pipeline, service: str) -> list[dict[str, object]]:
    lines = (pipeline.workdir / f"{service}.log").read_text().splitlines()
    return [orjson.loads(line) for line in lines if line.startswith("{")]


def poison(customer: str) -> dict[str, object]:
    return build.subscription_event(
        "updated", customer, build.new_id("sub"), PRICES["pro"], created=FAR_AHEAD
    )


def test_the_ingress_refuses_an_event_from_the_far_future(pipeline: Pipeline) -> None:
    event = poison(build.new_id("cus"))
    response = pipeline.post(event)
    assert response.status_code == 400 and response.json()["error"] == "implausible_created"
    logged = [line for line in json_lines(pipeline, "ingress") if "in the future" in str(line)]
    assert logged and logged[-1]["event_id"] == event["id"] and logged[-1]["level"] == "INFO"


def test_a_poison_record_is_dead_lettered_and_its_partition_keeps_flowing(
    pipeline: Pipeline,
) -> None:
    customer, sub = build.new_id("cus"), build.new_id("sub")
    bad = poison(customer)
    producer = CommandProducer(pipeline.bootstrap, 10)
    headers: list[tuple[str, str | bytes | None]] = [
        (EVENT_ID_HEADER, str(bad["id"]).encode()),
        (EVENT_TYPE_HEADER, str(bad["type"]).encode()),
    ]
    producer.send(
        pipeline.topics.stripe_events, orjson.dumps(bad), customer.encode(), None, headers
    )
    producer.flush()
    # the same customer's next event, behind the poison on the same partition
    pipeline.post_ok(build.subscription_event("created", customer, sub, PRICES["advisory"]))
    pipeline.wait_row(customer, plan="advisory")

    reader = TopicReader(pipeline.bootstrap, pipeline.topics.dead_letters)
    try:
        letters = wait_for(lambda: reader.poll_for(0.5) or None, 30, "the dead letter")
    finally:
        reader.close()
    assert len(letters) == 1
    letter = letters[0]
    assert letter.key == customer.encode() and orjson.loads(letter.value) == bad
    assert letter.headers["atlas-dlq-source"].startswith(pipeline.topics.stripe_events.encode())
    assert b"Integer exceeds 64-bit range" in letter.headers["atlas-dlq-reason"]
    assert letter.headers[EVENT_ID_HEADER] == str(bad["id"]).encode()
    logged = [line for line in json_lines(pipeline, "worker") if line.get("event_id") == bad["id"]]
    assert logged[0]["level"] == "ERROR" and logged[0]["customer_id"] == customer
    assert "Integer exceeds 64-bit range" in str(logged[0]["exception"])

    listed = pipeline.cli("dlq", "list")
    assert listed.returncode == 0, listed.stderr
    assert str(bad["id"]) in listed.stdout and "Integer exceeds 64-bit range" in listed.stdout
    assert "1 dead letter(s)" in listed.stdout

    entry = listed.stdout.split()[0]
    replayed = pipeline.cli("dlq", "replay", "--entry", entry)
    assert replayed.returncode == 0, replayed.stderr
    # still poison: processed again, dead-lettered again, and nothing else disturbed
    wait_for(
        lambda: "2 dead letter(s)" in pipeline.cli("dlq", "list").stdout, 30, "a second letter"
    )
    time.sleep(1)
    assert pipeline.row(customer)["plan"] == "advisory"  # type: ignore[index]


def test_dlq_replay_of_an_unknown_entry_exits_2(pipeline: Pipeline) -> None:
    result = pipeline.cli("dlq", "replay", "--entry", "9:999")
    assert result.returncode == 2 and "no dead letter 9:999" in result.stderr
