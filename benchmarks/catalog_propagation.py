"""Benchmark: seconds from ``atlas catalog apply`` to every client instance updated.

Starts the pipeline on embedded services, subscribes ``--customers`` customers to ``pro``,
starts ``--instances`` client processes (``tests.support.watch_many``), each warmed with every
user, then moves ``advisory-sessions`` into ``pro`` and times, per instance, when all users
are granted it: from the moment the command returned (the catalog is on the broker) and from
the moment it began (validation and its own start-up included).

    .venv/bin/python -m benchmarks.catalog_propagation [--customers 200] [--instances 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import orjson

from benchmarks.embedded_pipeline import embedded_pipeline
from tests import stripe_builders as build
from tests.support.pipeline import API_KEY, PRICES
from tests.support.polling import wait_for

PRO = '"data-exploration", "exports", "api-access", "team-seats"'


def _moved_catalog(path: Path) -> Path:
    default = resources.files("atlas").joinpath("default_catalog.toml").read_text()
    path.write_text(
        default.replace(f"features = [{PRO}]", f'features = [{PRO}, "advisory-sessions"]', 1)
    )
    return path


def _lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(customers: int, instances: int) -> None:
    with embedded_pipeline() as pipeline:
        pipeline.start()
        processes: list[subprocess.Popen[bytes]] = []
        try:
            users = []
            for _ in range(customers):
                customer, user = build.new_id("cus"), build.new_id("user")
                for event in build.subscribed(
                    customer, user, PRICES["pro"], created=int(time.time()) - 60
                ):
                    pipeline.post_ok(event)
                users.append((customer, user))
            for customer, _ in users:
                pipeline.wait_row(customer, plan="pro", timeout_s=120)
            env = {**pipeline.env, "ATLAS_API_URL": pipeline.api_url, "ATLAS_API_KEY": API_KEY}
            outputs = [pipeline.workdir / f"instance-{n}.jsonl" for n in range(instances)]
            for output in outputs:
                with open(output, "wb") as sink:
                    processes.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "tests.support.watch_many",
                                "advisory-sessions",
                                *(user for _, user in users),
                            ],
                            env=env,
                            stdout=sink,
                        )  # fmt: skip
                    )
            for output in outputs:
                wait_for(lambda o=output: any("ready" in line for line in _lines(o)), 120, "warm")
            time.sleep(1)
            began = time.time()
            applied = pipeline.cli(
                "catalog", "apply", str(_moved_catalog(pipeline.workdir / "moved.toml")),
                "--reason", "benchmark",
            )  # fmt: skip
            returned = time.time()
            if applied.returncode != 0:
                raise RuntimeError(applied.stderr)

            def all_granted(output: Path) -> float | None:
                done = [line for line in _lines(output) if line.get("granted") == customers]
                return float(done[0]["at"]) if done else None  # type: ignore[arg-type]

            finished = [wait_for(lambda o=o: all_granted(o), 120, "all granted") for o in outputs]
        finally:
            for process in processes:
                process.kill()
                process.wait()
            pipeline.stop()
    print(
        f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; tansu, Postgres, pipeline and clients on it"
    )
    print(f"customers whose access changed: {customers}; client instances: {instances}")
    print(f"`atlas catalog apply` took {returned - began:.2f} s (start-up, validation, publish)")
    for n, at in enumerate(finished):
        print(
            f"instance {n}: all users updated {at - returned:.3f} s after apply returned "
            f"({at - began:.3f} s after it began)"
        )
    print(f"all instances updated: {max(finished) - returned:.3f} s after apply returned")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--instances", type=int, default=3)
    args = parser.parse_args()
    run(args.customers, args.instances)


if __name__ == "__main__":
    main()
