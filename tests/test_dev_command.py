"""`atlas dev` — the quick start — runs everything on embedded services from one command,
prints what a user needs, processes a signed webhook into Postgres, and stops cleanly."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from atlas.dev import AUTH_VARIABLES
from atlas.embedded import free_port
from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.database import subscription_row
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def test_atlas_dev_end_to_end(tmp_path: Path) -> None:
    port, api_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", "STRIPE_WEBHOOK_SECRET")
        and k not in AUTH_VARIABLES
    }
    env.update(
        STRIPE_PRICE_ID_PRO="price_dev_pro",
        ATLAS_DEV_DIR=str(tmp_path / ".atlas"),
        ATLAS_TIMER_INTERVAL="1",
    )
    output = tmp_path / "dev.out"
    with open(output, "wb") as sink:
        dev = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "atlas.cli",
                "dev",
                "--port",
                str(port),
                "--api-port",
                str(api_port),
            ],  # fmt: skip
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:

        def banner() -> str | None:
            text = output.read_text()
            return text if "Press Ctrl-C" in text else None

        text = wait_for(banner, 60, "atlas dev to print its banner")
        assert f"http://127.0.0.1:{port}/stripe/webhook" in text
        secret = re.search(r"signing secret\s+(whsec_\S+)", text).group(1)
        database_url = re.search(r"database URL\s+(\S+)", text).group(1)
        api_key = re.search(r"API key\s+(atlas_dev_\S+)", text).group(1)

        customer = build.new_id("cus")
        body = orjson.dumps(
            build.subscription_event("created", customer, build.new_id("sub"), "price_dev_pro")
        )
        url = f"http://127.0.0.1:{port}/stripe/webhook"

        def accepted() -> bool:
            try:
                response = httpx.post(
                    url, content=body, headers={"stripe-signature": sign(body, secret)}
                )
            except httpx.TransportError:
                return False
            return response.status_code == 200

        wait_for(accepted, 60, "the ingress to accept a signed webhook")
        row = wait_for(lambda: subscription_row(database_url, customer), 60, "the row")
        assert row["plan"] == "pro"
        api = httpx.get(
            f"http://127.0.0.1:{api_port}/v1/customers/{customer}/entitlements",
            headers={"authorization": f"Bearer {api_key}"},
        )
        assert api.status_code == 200 and api.json()["plan"] == "pro"
        operator = httpx.get(  # the operator's page opens to the key dev made up
            f"http://127.0.0.1:{port}/admin/customers/{customer}",
            headers={"x-api-key": api_key},
            timeout=30,
        )
        assert operator.status_code == 200 and "plan pro" in operator.text
        assert f"http://127.0.0.1:{port}/admin" in text
    finally:
        dev.send_signal(signal.SIGINT)
        try:
            code = dev.wait(120)  # its children get 10 s, then Postgres and the broker stop
        except subprocess.TimeoutExpired:
            dev.kill()
            dev.wait()
            raise AssertionError(f"atlas dev still running 120 s after Ctrl-C:\n"
                                 f"{output.read_text()[-3000:]}") from None  # fmt: skip
    assert code == 0, output.read_text()[-3000:]
    time.sleep(0.5)
    leftovers = subprocess.run(["pgrep", "-f", f"--port {port}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == "", "ingress still running after Ctrl-C"
