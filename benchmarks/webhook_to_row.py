"""Benchmark: signed webhooks through the real pipeline on embedded services.

Prints (1) acknowledged webhooks per second for one ingress process under a concurrent load of
distinct signed events, with p50/p99 acknowledgement latency, (2) webhooks per second from
first POST to the last committed ``subscriptions`` row, and (3) single-event latency from POST
to committed row at a low rate.

    .venv/bin/python -m benchmarks.webhook_to_row [--events 5000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from atlas.embedded import EmbeddedKafka, embedded_postgres
from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.database import create_database, fetch_all
from tests.support.pipeline import PRICES, WEBHOOK_SECRET, Pipeline


def _bodies(count: int, tag: str) -> list[tuple[str, bytes]]:
    bodies = []
    for i in range(count):
        customer = f"cus_bench_{tag}_{i:07d}"
        event = build.subscription_event("created", customer, f"sub_{tag}_{i:07d}", PRICES["pro"])
        bodies.append((customer, orjson.dumps(event)))
    return bodies


async def _post_all(url: str, bodies: list[tuple[str, bytes]], concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for _, body in bodies:
        queue.put_nowait(body)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def sender() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                headers = {
                    "stripe-signature": sign(body, WEBHOOK_SECRET),
                    "content-type": "application/json",
                }
                started = time.perf_counter()
                response = await client.post("/stripe/webhook", content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies


def _count_rows(url: str, tag: str) -> int:
    rows = fetch_all(
        url,
        "SELECT count(*) AS n FROM subscriptions WHERE stripe_customer_id LIKE %s",
        f"cus_bench_{tag}_%",
    )
    return int(rows[0]["n"])


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def run(events: int, concurrency: int) -> None:
    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; "
        f"python {platform.python_version()}"
    )
    with (
        tempfile.TemporaryDirectory() as work,
        EmbeddedKafka() as kafka,
        embedded_postgres() as admin,
    ):
        pipeline = Pipeline(kafka.bootstrap, create_database(admin), Path(work)).start()
        try:
            warm = _bodies(50, "warm")
            asyncio.run(_post_all(pipeline.url, warm, 8))
            while _count_rows(pipeline.database_url, "warm") < len(warm):
                time.sleep(0.2)

            bodies = _bodies(events, "load")
            started = time.perf_counter()
            latencies = asyncio.run(_post_all(pipeline.url, bodies, concurrency))
            acked = time.perf_counter() - started
            while _count_rows(pipeline.database_url, "load") < events:
                time.sleep(0.05)
            committed = time.perf_counter() - started
            print(
                f"ingress: {events} distinct signed webhooks, {concurrency} connections: "
                f"{events / acked:,.0f} acknowledged/s, "
                f"p50 {_percentile(latencies, 50) * 1000:.1f} ms, "
                f"p99 {_percentile(latencies, 99) * 1000:.1f} ms"
            )
            print(
                f"end to end: {events / committed:,.0f} webhooks/s from first POST to last "
                f"committed row ({committed:.1f} s)"
            )

            single: list[float] = []
            for customer, body in _bodies(30, "single"):
                started = time.perf_counter()
                asyncio.run(_post_all(pipeline.url, [(customer, body)], 1))
                while pipeline.row(customer) is None:
                    time.sleep(0.002)
                single.append(time.perf_counter() - started)
            print(
                "POST to committed row, one at a time: "
                f"p50 {_percentile(single, 50) * 1000:.0f} ms, max {max(single) * 1000:.0f} ms"
            )
        finally:
            pipeline.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    run(args.events, args.concurrency)


if __name__ == "__main__":
    main()
