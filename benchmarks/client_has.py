"""Benchmark: what an entitlement check costs a downstream service.

Prints (1) nanoseconds per ``has()`` / ``check()`` / ``limit()`` on a warm cache hit (timeit,
best of 5 runs of 1,000,000 calls; no Kafka; the cache is warmed by one real fetch from a local
stand-in of the Atlas API), and (2) the latency a Starlette gate adds to a request: the same
endpoint gated and ungated, called in-process as an ASGI app (no HTTP server or client, so the
figure is the gate's own cost, not the network's), best of 5 runs of 20,000 requests.

    .venv/bin/python -m benchmarks.client_has [--calls 1000000] [--requests 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import timeit
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from atlas_client import AsyncEntitlementsClient, EntitlementsClient
from atlas_client.starlette import AtlasGate, gated_route
from tests.support.client_fixtures import API_KEY, StubApi, record

USER, FEATURE = "bench-user", "exports"


def _ns_per_call(call: Callable[[], object], calls: int) -> float:
    best = min(timeit.repeat(call, number=calls, repeat=5))
    return best / calls * 1e9


def bench_checks(api: StubApi, calls: int) -> None:
    with EntitlementsClient(api_url=api.url, api_key=API_KEY) as client:
        assert client.has(USER, FEATURE)  # the one fetch; every call below is a hit
        fetched = api.user_hits(USER)
        for name, method in (("has", client.has), ("limit", client.limit), ("check", client.check)):
            cost = _ns_per_call(lambda: method(USER, FEATURE), calls)  # noqa: B023
            print(f"{name + '()':8} cache hit: {cost:4.0f} ns per call")
        entries = {USER: frozenset({FEATURE})}
        floor = _ns_per_call(lambda: FEATURE in entries.get(USER, ()), calls)
        print(f"  (floor: a dict lookup and a set membership test: {floor:.0f} ns)")
        assert api.user_hits(USER) == fetched, "a cache hit did I/O"


async def _endpoint(_request: Request) -> Response:
    return PlainTextResponse("ok")


async def _asgi_request(app: Starlette, path: str) -> None:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"x-user", USER.encode())],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    assert status == [200], status


async def _us_per_request(app: Starlette, path: str, requests: int) -> float:
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(requests):
            await _asgi_request(app, path)
        runs.append(time.perf_counter() - started)
    return min(runs) / requests * 1e6


async def bench_gate(api: StubApi, requests: int) -> None:
    async with AsyncEntitlementsClient(api_url=api.url, api_key=API_KEY) as client:
        sync_client = EntitlementsClient(api_url=api.url, api_key=API_KEY)
        apps = {}
        for name, gate_client in (("async client", client), ("sync client", sync_client)):
            app = Starlette(
                routes=[
                    Route("/plain", _endpoint),
                    gated_route("/gated", _endpoint, feature=FEATURE),
                ]
            )
            app.state.atlas_gate = AtlasGate(gate_client, user_id=lambda r: r.headers["x-user"])
            await _asgi_request(app, "/gated")  # warms the client's cache
            apps[name] = app
        try:
            for name, app in apps.items():
                plain = await _us_per_request(app, "/plain", requests)
                gated = await _us_per_request(app, "/gated", requests)
                print(
                    f"Starlette gate, {name}: ungated {plain:5.1f} µs, gated {gated:5.1f} µs "
                    f"per request -> the gate adds {gated - plain:4.1f} µs"
                )
        finally:
            sync_client.close()


def _processor() -> str:
    if platform.processor():
        return platform.processor()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            names = [line.split(":", 1)[1] for line in cpuinfo if line.startswith("model name")]
    except OSError:
        return "?"
    return names[0].strip() if names else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()} {_processor()}, {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]} ({platform.python_implementation()})"
    )
    api = StubApi().start()
    api.serve(record(USER, "pro", version=1))
    try:
        bench_checks(api, args.calls)
        asyncio.run(bench_gate(api, args.requests))
    finally:
        api.stop()


if __name__ == "__main__":
    main()
