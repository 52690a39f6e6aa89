"""Benchmark: signed webhooks through the real pipeline on embedded services.

Prints, in one run on one machine:

1. acknowledged webhooks per second for one ingress process (worker and sink stopped, then
   with the whole pipeline running) under a concurrent load of
   distinct signed events (driven by wrk: ``apt-get install wrk``; a Python client would
   measure itself), with p50/p99 acknowledgement latency; and the same load against a trivial
   Starlette endpoint served with the same uvicorn options (``benchmarks/trivial_webhook.py``):
   the ratio is the ingress's figure;
2. p50/p99 acknowledgement latency at a fixed rate (``--rate``, 1,000/s by default);
3. webhooks per second from first POST to the last committed ``subscriptions`` row;
4. single-event latency from POST to committed row at a low rate;
5. with ``--peer``, stripe-sync-engine (``../shared/bench/peer-sse/run.sh``: npm, Postgres on
   127.0.0.1:5432) under the same kind of load, and Atlas's figures as multiples of it.

The bodies are the real ``customer.subscription.updated`` payload from
``../shared/fixtures`` with fresh ids (as the peer's load), else the project's builders.

    .venv/bin/python -m benchmarks.webhook_to_row [--events 20000] [--seconds 10] [--peer]
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from atlas.embedded import free_port
from benchmarks.embedded_pipeline import embedded_pipeline
from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.pipeline import PRICES, WEBHOOK_SECRET, Pipeline

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURE = (
    SHARED / "fixtures/stripe-events/stripe-ruby-mock/customer.subscription.updated__ruby-mock.json"
)
PEER_RUN = SHARED / "bench/peer-sse/run.sh"


def _bodies(count: int, tag: str) -> list[tuple[str, bytes]]:
    """``count`` distinct events, each for its own customer."""
    if FIXTURE.exists():
        base = json.loads(FIXTURE.read_text())
        base["created"] = int(time.time())
    bodies = []
    for i in range(count):
        customer, sub = f"cus_bench_{tag}_{i:07d}", f"sub_{tag}_{i:07d}"
        if FIXTURE.exists():
            event = copy.deepcopy(base)
            event["id"] = f"evt_{tag}_{i:07d}"
            subscription = event["data"]["object"]
            subscription["id"], subscription["customer"] = sub, customer
        else:
            event = build.subscription_event("created", customer, sub, PRICES["pro"])
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


def _wrk_script(bodies: list[tuple[str, bytes]], path: Path, delay_ms: float = 0) -> None:
    """A wrk script sending each signed body once, in order (then cycling); each connection
    waits ``delay_ms`` between requests."""
    lines = ["local reqs = {}"]
    for i, (_, body) in enumerate(bodies, start=1):
        headers = (
            '{["Host"]="127.0.0.1", ["Content-Type"]="application/json", '
            f'["Stripe-Signature"]="{sign(body, WEBHOOK_SECRET)}"}}'
        )
        lines.append(f'reqs[{i}] = wrk.format("POST", nil, {headers}, [==[{body.decode()}]==])')
    if delay_ms:
        lines.append(f"delay = function() return {delay_ms} end")
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
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    figures["per_s"] = figures["requests"] / figures["seconds"]
    return figures


def _describe(load: dict[str, float]) -> str:
    return (
        f"{load['per_s']:,.0f}/s, p50 {load['p50_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, "
        f"non-2xx {load['non2xx']:.0f}, socket errors {load['errors']:.0f}"
    )


def _reference(script: Path, seconds: int, connections: int) -> dict[str, float]:
    """The same load against a trivial Starlette endpoint with the ingress's uvicorn options."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.trivial_webhook", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(f"http://127.0.0.1:{port}")
        return _wrk(f"http://127.0.0.1:{port}/stripe/webhook", script, seconds, connections)
    finally:
        server.terminate()
        server.wait()


def _wait_listening(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {url}")


def _peer(events: int, seconds: int, connections: int) -> dict[str, float]:
    """stripe-sync-engine under wrk with distinct signed webhooks (its own script)."""
    env = {**os.environ, "N": str(events), "D": str(seconds), "C": str(connections)}
    result = subprocess.run(
        ["bash", str(PEER_RUN)], capture_output=True, text=True, check=True, env=env
    )
    line = next(x for x in result.stdout.splitlines() if x.startswith("{"))
    figures: dict[str, float] = json.loads(line)
    rows = re.search(r"^rows (\d+)", result.stdout, re.MULTILINE)
    figures["rows"] = float(rows.group(1)) if rows else 0.0
    return figures


def _count_rows(url: str, tag: str) -> int:
    rows = fetch_all(
        url,
        "SELECT count(*) AS n FROM subscriptions WHERE stripe_customer_id LIKE %s",
        f"cus_bench_{tag}_%",
    )
    return int(rows[0]["n"])


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def _wait_rows(pipeline: Pipeline, tag: str, count: int, context: Any) -> None:
    deadline = time.monotonic() + 300
    while (rows := _count_rows(pipeline.database_url, tag)) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {rows} of {count} rows after 300 s: {context}")
        time.sleep(0.05)


def run(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}; broker, Postgres, services and wrk all on it"
    )
    print(f"bodies: {'the shared fixture' if FIXTURE.exists() else 'the builders'}", end="")
    with tempfile.TemporaryDirectory() as work:
        bodies = _bodies(args.events, "load")
        print(f", {statistics.mean(len(b) for _, b in bodies):,.0f} bytes each")
        script = Path(work) / "load.lua"
        _wrk_script(bodies, script)
        reference = _reference(script, args.seconds, args.connections)
        print(f"trivial Starlette endpoint, same load: {_describe(reference)}")
        peer = _peer(args.events, args.seconds, args.connections) if args.peer else None
        if peer is not None:
            print(
                f"stripe-sync-engine, {args.events:,} distinct webhooks: {peer['per_s']:,.0f}/s "
                f"into Postgres, p50 {peer['p50_ms']:.1f} ms, p99 {peer['p99_ms']:.1f} ms, "
                f"{peer['rows']:,.0f} rows"
            )
        with embedded_pipeline() as pipeline:
            pipeline.start()
            try:
                _measure_atlas(pipeline, args, work, script, reference, peer)
            finally:
                pipeline.stop()


def _measure_atlas(
    pipeline: Pipeline,
    args: argparse.Namespace,
    work: str,
    script: Path,
    reference: dict[str, float],
    peer: dict[str, float] | None,
) -> None:
    warm = _bodies(50, "warm")
    asyncio.run(_post_all(pipeline.url, warm, 8))
    _wait_rows(pipeline, "warm", len(warm), "warm-up")

    # The ingress alone (worker and sink stopped): its own rate, as the reference's.
    pipeline.stop_service("worker")
    pipeline.stop_service("sink")
    alone = _wrk(f"{pipeline.url}/stripe/webhook", script, args.seconds, args.connections)
    print(
        f"Atlas ingress alone, {args.connections} connections: {_describe(alone)} = "
        f"{alone['per_s'] / reference['per_s']:.0%} of the trivial endpoint"
    )
    paced = Path(work) / "paced.lua"
    connections = max(1, round(args.rate / 50))  # a request per 15 ms + its latency on each
    _wrk_script(_bodies(args.rate * args.seconds + 100, "paced"), paced, delay_ms=15)
    steady = _wrk(f"{pipeline.url}/stripe/webhook", paced, args.seconds, connections)
    print(f"Atlas ingress alone at a fixed pace ({connections} connections): {_describe(steady)}")

    pipeline.start_service("worker")
    pipeline.start_service("sink")
    _wait_rows(pipeline, "load", min(int(alone["requests"]), args.events), alone)
    paced_rows = min(int(steady["requests"]), args.rate * args.seconds + 100)
    _wait_rows(pipeline, "paced", paced_rows, steady)

    # Everything running: fresh events from first POST to the last committed row.
    fresh = Path(work) / "fresh.lua"
    _wrk_script(_bodies(args.events, "fresh"), fresh)
    started = time.perf_counter()
    load = _wrk(f"{pipeline.url}/stripe/webhook", fresh, args.seconds, args.connections)
    distinct = min(int(load["requests"]), args.events)
    _wait_rows(pipeline, "fresh", distinct, load)
    committed = distinct / (time.perf_counter() - started)
    print(f"Atlas ingress with the pipeline running: {_describe(load)}")
    print(
        f"Atlas end to end: {committed:,.0f} distinct webhooks/s from first POST to last "
        f"committed row ({distinct:,} rows)"
    )
    if peer is not None:
        print(
            f"against stripe-sync-engine: acknowledged {alone['per_s'] / peer['per_s']:.1f}x "
            f"(ingress alone), committed rows {committed / peer['per_s']:.1f}x its rate"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000, help="distinct events in the load")
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=1000, help="the fixed pace, webhooks/s")
    parser.add_argument("--peer", action="store_true", help="also run stripe-sync-engine")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
