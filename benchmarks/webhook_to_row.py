"""Benchmark: signed webhooks through the real pipeline on embedded services.

Prints (1) acknowledged webhooks per second for one ingress process under a concurrent load of
distinct signed events (driven by wrk: ``apt-get install wrk``; a Python client tops out near
400 requests/s here and would measure itself), with p50/p99 acknowledgement latency, (2)
webhooks per second from first POST to the last committed ``subscriptions`` row, and (3)
single-event latency from POST to committed row at a low rate.

    .venv/bin/python -m benchmarks.webhook_to_row [--events 20000] [--seconds 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import subprocess
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


def _wrk_script(bodies: list[tuple[str, bytes]], path: Path) -> None:
    """A wrk script sending each signed body once, in order (then cycling)."""
    lines = ["local reqs = {}"]
    for i, (_, body) in enumerate(bodies, start=1):
        headers = (
            '{["Host"]="127.0.0.1", ["Content-Type"]="application/json", '
            f'["Stripe-Signature"]="{sign(body, WEBHOOK_SECRET)}"}}'
        )
        lines.append(f'reqs[{i}] = wrk.format("POST", nil, {headers}, [==[{body.decode()}]==])')
    lines.append(
        """
local i = 0
request = function() i = i + 1; return reqs[(i - 1) % #reqs + 1] end
done = function(summary, latency, requests)
  io.write(string.format('{"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, '
    .. '"non2xx": %d, "errors": %d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end"""
    )
    path.write_text("\n".join(lines))


def _wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    # One wrk thread: each thread runs its own copy of the script, so two would send every
    # event twice and never reach the second half of the distinct set.
    result = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _count_rows(url: str, tag: str) -> int:
    rows = fetch_all(
        url,
        "SELECT count(*) AS n FROM subscriptions WHERE stripe_customer_id LIKE %s",
        f"cus_bench_{tag}_%",
    )
    return int(rows[0]["n"])


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def run(events: int, seconds: int, connections: int) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
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
            script = Path(work) / "load.lua"
            _wrk_script(bodies, script)
            started = time.perf_counter()
            load = _wrk(f"{pipeline.url}/stripe/webhook", script, seconds, connections)
            distinct = min(int(load["requests"]), events)
            deadline = time.monotonic() + 300
            while (rows := _count_rows(pipeline.database_url, "load")) < distinct:
                if time.monotonic() > deadline:
                    raise SystemExit(
                        f"only {rows} of {distinct} rows after 300 s: {load}\n{pipeline.logs()}"
                    )
                time.sleep(0.05)
            committed = time.perf_counter() - started
            print(
                f"ingress: {load['requests']:,.0f} signed webhooks ({distinct:,} distinct) in "
                f"{load['seconds']:.1f} s over {connections} connections: "
                f"{load['requests'] / load['seconds']:,.0f} acknowledged/s, "
                f"p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
                f"non-2xx {load['non2xx']:.0f}, socket errors {load['errors']:.0f}"
            )
            print(
                f"end to end: {distinct / committed:,.0f} distinct webhooks/s from first POST to "
                f"last committed row ({committed:.1f} s)"
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
    parser.add_argument("--events", type=int, default=20000, help="distinct events in the load")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    run(args.events, args.seconds, args.connections)


if __name__ == "__main__":
    main()
