"""Benchmark: Stripe events folded per second by the workers, reading them from the log — the
rate of a stream catching up and of `atlas replay --to-earliest` (both read stripe.events
from the start) — with the workers' CPU per event and resident memory per 100k customers.

Produces ``--events`` realistic events (checkout, subscription created/updated, invoices paid
and failed, in the classic and 2026 shapes) for ``--customers`` customers straight onto
``stripe.events``, in time order, then starts ``--workers`` `atlas worker` processes of one
group and reads their `atlas_events_processed_total` from ``/metrics`` until every event is
counted. The rate is counted from the first processed event (the group join is not folding).

    .venv/bin/python -m benchmarks.stream_fold [--events 20000] [--customers 2000]
        [--workers 1] [--partitions 4]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import time

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from atlas.embedded import free_port
from atlas.kafka_produce import CommandProducer
from atlas.kafka_topics import ensure_topics
from benchmarks.embedded_pipeline import embedded_pipeline
from benchmarks.process_cpu import cpu_seconds
from schemas.topics import EVENT_ID_HEADER, EVENT_TYPE_HEADER
from tests import stripe_builders as build
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
    try:
        text = httpx.get(url + "/metrics").text
    except httpx.TransportError:  # not serving yet
        return 0
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "atlas_events_processed_total"
    )


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def _start_workers(pipeline: Pipeline, count: int) -> list[tuple[subprocess.Popen[bytes], str]]:
    """``count`` workers of one group, each serving its metrics on a port of its own."""
    workers = []
    for number in range(count):
        port = free_port()
        log = open(pipeline.workdir / f"worker-{number}.log", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "atlas.cli", "worker"],
            env={**pipeline.env, "ATLAS_METRICS_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        workers.append((process, f"http://127.0.0.1:{port}"))
    return workers


def run(events: int, customers: int, batch_bytes: int, workers: int, partitions: int) -> None:
    rng = random.Random(7)
    start = int(time.time()) - 86_400
    per_customer = max(1, events // customers)
    log_order = sorted(
        (
            event
            for number in range(customers)
            for event in _history(f"cus_bench_{number:06d}", start + number, rng)[:per_customer]
        ),
        key=lambda event: int(str(event["created"])),  # the log in time order, as Stripe sent it
    )
    with embedded_pipeline(
        ATLAS_WORKER_PRODUCER_BATCH_BYTES=str(batch_bytes),
        ATLAS_TOPIC_PARTITIONS=str(partitions),
    ) as pipeline:
        ensure_topics(pipeline.bootstrap, pipeline.topics, partitions)
        producer = CommandProducer(pipeline.bootstrap, 60)
        for event in log_order:
            headers: list[tuple[str, str | bytes | None]] = [
                (EVENT_ID_HEADER, str(event["id"]).encode()),
                (EVENT_TYPE_HEADER, str(event["type"]).encode()),
            ]
            customer = str(event["data"]["object"]["customer"])  # type: ignore[index]
            producer.send(pipeline.topics.stripe_events, orjson.dumps(event), customer.encode(),
                          headers=headers)  # fmt: skip
        producer.flush()
        sent = len(log_order)
        running = _start_workers(pipeline, workers)
        pids = [process.pid for process, _ in running]
        first = None
        try:
            while True:
                done = sum(_processed(url) for _, url in running)
                now = time.perf_counter()
                if done and first is None:
                    first = (now, done, sum(cpu_seconds(pid) for pid in pids))
                    rss_start = [_rss_mib(pid) for pid in pids]
                if done >= sent:
                    worker_cpu = sum(cpu_seconds(pid) for pid in pids) - first[2]
                    rss_end = [_rss_mib(pid) for pid in pids]
                    break
                time.sleep(0.2)
        finally:
            for process, _ in running:
                process.terminate()
                process.wait()
    assert first is not None
    seconds = now - first[0]
    folded = sent - first[1]
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; tansu and the workers on it"
    )
    print(
        f"{sent:,} events of {customers:,} customers in time order, {partitions} partitions, "
        f"{workers} worker(s): {folded / seconds:,.0f} events/s "
        f"({seconds:.1f} s after the first was counted)"
    )
    print(
        f"worker CPU: {worker_cpu:.1f} s, {folded / worker_cpu:,.0f} events per worker "
        f"CPU-second ({worker_cpu / folded * 1e6:.0f} µs each: the rate of one worker with a "
        "core of its own and a broker that keeps up)"
    )
    growth = sum(rss_end) - sum(rss_start)
    print(
        f"worker resident memory: {sum(rss_start):,.0f} MiB at the first event, "
        f"{sum(rss_end):,.0f} MiB with {customers:,} customers in the table: "
        f"{growth / customers * 100_000:,.0f} MiB per 100k customers"
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
    parser.add_argument("--workers", type=int, default=1, help="workers in the group")
    parser.add_argument("--partitions", type=int, default=4, help="of every Atlas topic")
    args = parser.parse_args()
    run(args.events, args.customers, args.producer_batch_bytes, args.workers, args.partitions)


if __name__ == "__main__":
    main()
