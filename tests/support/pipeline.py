"""Run the real services (``atlas ingress``, ``atlas worker``, ``atlas sink``) as processes on
a broker and database, with topics, groups and a database of their own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from atlas.embedded import free_port
from ingress.signature import sign
from schemas.topics import Topics
from tests.support.database import subscription_row
from tests.support.polling import wait_for

WEBHOOK_SECRET = "whsec_test_" + "a" * 32
ROTATED_SECRET = "whsec_test_" + "b" * 32  # also configured: secrets rotate
API_KEY = "test-service-key-" + "c" * 24
JWT_SECRET = "test-jwt-secret-" + "d" * 32
PRICES = {"pro": "price_test_pro", "advisory": "price_test_advisory", "free": "price_test_free"}


class Pipeline:
    def __init__(self, bootstrap: str, database_url: str, workdir: Path, **env: str) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:10]}."
        self.topics = Topics.with_prefix(self.prefix)
        self.bootstrap = bootstrap
        self.database_url = database_url
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "DATABASE_URL": database_url,
            "STRIPE_WEBHOOK_SECRET": f"{WEBHOOK_SECRET},{ROTATED_SECRET}",
            "ATLAS_TOPIC_PREFIX": self.prefix,
            "ATLAS_TOPIC_PARTITIONS": "4",
            "ATLAS_GROUP_TIMEOUT_MS": "2000",
            "ATLAS_WORKER_PRODUCER_BATCH_BYTES": "1",  # exact recovery on tansu (see README)
            "ATLAS_TIMER_INTERVAL": "1",
            "ATLAS_PUBLISH_TIMEOUT": "3",
            "ATLAS_STALL_SECONDS": "5",
            "ATLAS_FETCH_MAX_WAIT_MS": "100",  # tansu does not answer a waiting fetch early
            "ATLAS_WORKER_DATA_DIR": str(workdir / "worker-data"),
            **{f"STRIPE_PRICE_ID_{tier.upper()}": price for tier, price in PRICES.items()},
            "ATLAS_API_KEYS": f"tests:{API_KEY}",
            "ATLAS_AUTH_JWT_SECRET": JWT_SECRET,
            "ATLAS_AUTH_JWT_AUDIENCE": "atlas-tests",
            **env,
        }
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.metrics_ports = {"worker": free_port(), "sink": free_port()}
        self.http = httpx.Client(base_url=self.url, timeout=15)
        self.api = httpx.Client(
            base_url=self.api_url, timeout=15, headers={"authorization": f"Bearer {API_KEY}"}
        )

    def start_service(self, name: str, *args: str) -> None:
        with open(self.workdir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            port = self.metrics_ports.get(name)
            env = self.env if port is None else {**self.env, "ATLAS_METRICS_PORT": str(port)}
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "atlas.cli", name, *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self) -> Pipeline:
        self.start_service("ingress", "--port", str(self.port))
        self.start_service("api", "--port", str(self.api_port))
        self.start_service("worker")
        self.start_service("sink")
        wait_for(lambda: self._ready(self.http), 30, "ingress /readyz")
        wait_for(lambda: self._ready(self.api), 30, "api /readyz")
        return self

    @staticmethod
    def _ready(client: httpx.Client) -> bool:
        try:
            return client.get("/readyz").status_code == 200
        except httpx.TransportError:
            return False

    def cli(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``atlas ARGS`` against this pipeline's broker, topics and database."""
        return subprocess.run(
            [sys.executable, "-m", "atlas.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def stop_service(self, name: str, sig: int = signal.SIGTERM) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            process.send_signal(sig)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_service(name)
        self.http.close()
        self.api.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.workdir.glob("*.log"))
        )

    # --- posting -------------------------------------------------------------------------

    def post(
        self,
        event: dict[str, Any] | bytes,
        *,
        secret: str = WEBHOOK_SECRET,
        signature: str | None = None,
        **headers: str,
    ) -> httpx.Response:
        body = event if isinstance(event, bytes) else orjson.dumps(event)
        sent = {"content-type": "application/json", **headers}
        if signature is not None or secret:
            sent["stripe-signature"] = signature if signature is not None else sign(body, secret)
        return self.http.post("/stripe/webhook", content=body, headers=sent)

    def post_ok(self, event: dict[str, Any]) -> None:
        response = self.post(event)
        assert response.status_code == 200, response.text

    def row(self, customer: str) -> dict[str, Any] | None:
        return subscription_row(self.database_url, customer)

    def wait_row(self, customer: str, timeout_s: float = 45, **expected: Any) -> dict[str, Any]:
        def matches() -> dict[str, Any] | None:
            row = self.row(customer)
            if row and all(row[key] == value for key, value in expected.items()):
                return row
            return None

        try:
            return wait_for(matches, timeout_s, f"row of {customer} with {expected}")
        except AssertionError:
            raise AssertionError(
                f"row of {customer} is {self.row(customer)}, wanted {expected}\n{self.logs()}"
            ) from None
