"""Benchmark: webhook POST to the change visible in a client-library instance in another
process, at a fixed rate (200 webhooks/s by default), on the embedded services.

Each of ``--events`` users is first linked to its own customer (a ``checkout.session.completed``,
not timed). Then one ``customer.subscription.created`` to ``pro`` per customer is posted at
``--rate``; a separate process (`benchmarks/latency_watcher.py`) holding an
``EntitlementsClient`` prints when a cached check first grants the user ``data-exploration``.
Latency is that moment minus the moment the POST began (both wall clock, one machine).

tansu answers a fetch that waits for records only at its deadline, so on it the worker and
the client fetch with ``--fetch-wait-ms`` (10); on Kafka a record ends the wait and the
setting does not add latency.

    .venv/bin/python -m benchmarks.end_to_end_latency [--events 4000] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from typing import IO

import orjson

from benchmarks.embedded_pipeline import embedded_pipeline
from benchmarks.raw_http import RawConnection
from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.pipeline import API_KEY, PRICES, WEBHOOK_SECRET

FEATURE = "data-exploration"  # granted by pro in the default catalog


async def _post(connection: RawConnection, event: dict[str, object]) -> None:
    body = orjson.dumps(event)
    headers = {"Stripe-Signature": sign(body, WEBHOOK_SECRET), "Content-Type": "application/json"}
    status = await connection.post("/stripe/webhook", body, headers)
    if status != 200:
        raise SystemExit(f"the ingress answered {status}")


async def _post_each(port: int, events: list[dict[str, object]], connections: int) -> None:
    queue = list(reversed(events))
    pool = [await RawConnection.open("127.0.0.1", port) for _ in range(connections)]

    async def drain(connection: RawConnection) -> None:
        while queue:
            await _post(connection, queue.pop())

    await asyncio.gather(*(drain(connection) for connection in pool))
    for connection in pool:
        connection.close()


async def _paced(port: int, customers: list[str], rate: int) -> dict[str, float]:
    """POST one upgrade per customer, ``rate`` per second, each on a free connection (64 at
    most open); returns when each POST began."""
    began: dict[str, float] = {}
    acked: dict[str, float] = {}
    idle: asyncio.Queue[RawConnection] = asyncio.Queue()
    for _ in range(64):
        idle.put_nowait(await RawConnection.open("127.0.0.1", port))

    async def upgrade(customer: str) -> None:
        connection = await idle.get()
        began["user_" + customer] = time.time()
        event = build.subscription_event("created", customer, "sub_" + customer, PRICES["pro"])
        await _post(connection, event)
        acked["user_" + customer] = time.time()
        idle.put_nowait(connection)

    start = time.perf_counter()
    tasks = []
    for number, customer in enumerate(customers):
        delay = start + number / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(upgrade(customer)))
    await asyncio.gather(*tasks)
    sent_rate = len(customers) / (time.perf_counter() - start)
    print(f"posted {len(customers):,} upgrades at {sent_rate:,.0f}/s")
    while not idle.empty():
        idle.get_nowait().close()
    acks = statistics.quantiles([(acked[u] - began[u]) * 1000 for u in began], n=100)
    print(f"of which the ingress's acknowledgement: p50 {acks[49]:.1f} ms, p99 {acks[98]:.1f} ms")
    return began


def _read_seen(lines: IO[str], seen: dict[str, float], count: int) -> None:
    while len(seen) < count:
        line = lines.readline()
        if not line:
            return
        user, at = line.split()
        seen[user] = float(at)


def run(events: int, rate: int, fetch_wait_ms: int) -> None:
    customers = [f"cus_lat_{number:06d}" for number in range(events)]
    with embedded_pipeline(ATLAS_FETCH_MAX_WAIT_MS=str(fetch_wait_ms)) as pipeline:
        pipeline.start()
        watcher = None
        try:
            links = [build.checkout_completed(c, None, "user_" + c) for c in customers]
            asyncio.run(_post_each(pipeline.port, links, 16))
            pipeline.wait_row(customers[-1], timeout_s=120)
            env = {
                **pipeline.env,
                "ATLAS_API_URL": pipeline.api_url,
                "ATLAS_API_KEY": API_KEY,
                "LATENCY_FETCH_WAIT_MS": str(fetch_wait_ms),
            }
            watcher = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.latency_watcher", FEATURE],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert watcher.stdin is not None and watcher.stdout is not None
            watcher.stdin.write("".join(f"user_{c}\n" for c in customers) + "\n")
            watcher.stdin.flush()
            if watcher.stdout.readline().strip() != "ready":
                raise SystemExit("the watcher did not start")
            seen: dict[str, float] = {}
            reader = threading.Thread(
                target=_read_seen, args=(watcher.stdout, seen, len(customers))
            )
            reader.start()  # a pipe left unread fills up and stops the watcher
            began = asyncio.run(_paced(pipeline.port, customers, rate))
            reader.join(timeout=120)
        finally:
            if watcher is not None:
                watcher.kill()
            pipeline.stop()
    missing = len(began) - len(seen)
    if missing:
        raise SystemExit(f"{missing} upgrades never reached the watcher")
    latencies = sorted((seen[user] - began[user]) * 1000 for user in began)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; broker, Postgres, all services, the watcher and the load "
        "generator on it"
    )
    print(
        f"webhook POST -> granted in another process's client cache, {len(latencies):,} "
        f"upgrades at {rate}/s, fetch wait {fetch_wait_ms} ms: p50 {cuts[49]:.1f} ms, "
        f"p99 {cuts[98]:.1f} ms, max {latencies[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--rate", type=int, default=200, help="webhooks per second")
    parser.add_argument("--fetch-wait-ms", type=int, default=10)
    args = parser.parse_args()
    run(args.events, args.rate, args.fetch_wait_ms)


if __name__ == "__main__":
    main()
