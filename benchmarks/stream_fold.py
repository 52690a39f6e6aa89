"""Benchmark: Stripe events folded per second by one worker, reading them from the log — the
rate of a stream catching up and of `atlas replay --to-earliest` (both read stripe.events
from the start).

Produces ``--events`` realistic events (checkout, subscription created/updated, invoices paid
and failed, in the classic and 2026 shapes) for ``--customers`` customers straight onto
``stripe.events``, then starts one `atlas worker` and reads its `atlas_events_processed_total`
from ``/metrics`` until every event is counted. The rate is counted from the first processed
event (the group join is not folding).

    .venv/bin/python -m benchmarks.stream_fold [--events 20000] [--customers 2000]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from atlas.embedded import EmbeddedKafka, embedded_postgres
from atlas.kafka_produce import CommandProducer
from atlas.kafka_topics import ensure_topics
from benchmarks.process_cpu import cpu_seconds
from schemas.topics import EVENT_ID_HEADER, EVENT_TYPE_HEADER
from tests import stripe_builders as build
from tests.support.database import create_database
from tests.support.pipeline import PRICES, Pipeline


def _history(customer: str, start: int, rng: random.Random) -> list[dict[str, object]]:
    sub, user = build.new_id("sub"), build.new_id("user")
    shape = rng.choice(["classic", "dahlia"])
    events: list[dict[str, object]] = [
        build.checkout_completed(customer, sub, user, created=start),
        build.subscription_event(
            "created", customer, sub, PRICES["pro"], created=start, shape=shape
        ),
    ]
    for month in range(1, 9):
        kind = "invoice.payment_failed" if rng.random() < 0.1 else "invoice.paid"
        events.append(build.invoice_event(kind, customer, sub, PRICES["pro"],
                                          created=start + month * 100, shape=shape))  # fmt: skip
    events.append(build.subscription_event("updated", customer, sub, PRICES["advisory"],
                                           created=start + 950, shape=shape))  # fmt: skip
    return events


def _processed(url: str) -> float:
    text = httpx.get(url + "/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "atlas_events_processed_total"
    )


def run(events: int, customers: int, batch_bytes: int) -> None:
    rng = random.Random(7)
    start = int(time.time()) - 86_400
    per_customer = max(1, events // customers)
    with (
        tempfile.TemporaryDirectory() as work,
        EmbeddedKafka(log_path=Path(work) / "tansu.log") as kafka,
        embedded_postgres() as admin,
    ):
        pipeline = Pipeline(
            kafka.bootstrap,
            create_database(admin),
            Path(work),
            ATLAS_WORKER_PRODUCER_BATCH_BYTES=str(batch_bytes),
        )
        ensure_topics(kafka.bootstrap, pipeline.topics, 4)
        producer = CommandProducer(kafka.bootstrap, 60)
        sent = 0
        for number in range(customers):
            customer = f"cus_bench_{number:06d}"
            for event in _history(customer, start + number, rng)[:per_customer]:
                headers: list[tuple[str, str | bytes | None]] = [
                    (EVENT_ID_HEADER, str(event["id"]).encode()),
                    (EVENT_TYPE_HEADER, str(event["type"]).encode()),
                ]
                producer.send(pipeline.topics.stripe_events, orjson.dumps(event),
                              customer.encode(), headers=headers)  # fmt: skip
                sent += 1
        producer.flush()
        pipeline.start_service("worker")
        url = f"http://127.0.0.1:{pipeline.metrics_ports['worker']}"
        worker_pid = pipeline.processes["worker"].pid
        first = None
        try:
            while True:
                try:
                    done = _processed(url)
                except httpx.TransportError:
                    done = 0
                now = time.perf_counter()
                if done and first is None:
                    first = (now, done, cpu_seconds(worker_pid))
                if done >= sent:
                    worker_cpu = cpu_seconds(worker_pid) - first[2]
                    break
                time.sleep(0.2)
        finally:
            pipeline.stop()
    assert first is not None
    seconds = now - first[0]
    rate = (sent - first[1]) / seconds if seconds > 0 else float("inf")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; tansu and the worker on it"
    )
    print(
        f"{sent} events of {customers} customers folded by one worker, 4 partitions: "
        f"{rate:,.0f} events/s ({seconds:.1f} s after the first was counted)"
    )
    folded = sent - first[1]
    print(
        f"worker CPU: {worker_cpu:.1f} s, {folded / worker_cpu:,.0f} events per worker CPU-second "
        f"({worker_cpu / folded * 1e6:.0f} µs each; the rate one worker reaches with a core "
        "of its own and a broker keeping up)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument(
        "--producer-batch-bytes",
        type=int,
        default=1,
        help="the worker's producer batch size: 1 as on tansu (exact changelog recovery; see "
        "README), or e.g. 16384, Faust's default, as on Kafka",
    )
    args = parser.parse_args()
    run(args.events, args.customers, args.producer_batch_bytes)


if __name__ == "__main__":
    main()
