"""No secret reaches a log, an error or ``/metrics``.

The services run with distinctive secret values (a Stripe key, two webhook secrets, a database
URL with a password, a service API key, a JWT secret), at debug level, and are driven through
their error paths: bad and stale signatures, wrong API keys and tokens, Stripe refusing the key,
Postgres unreachable, CLI commands failing, settings refused at start. Then every log line,
every error body, every CLI output and every ``/metrics`` page is searched for those values,
and for the credentials clients presented.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import jwt
import orjson
import pytest
from sqlalchemy.engine import make_url

from atlas.embedded import free_port
from ingress.signature import sign
from tests import stripe_builders as build
from tests.support.database import execute, subscription_row
from tests.support.pipeline import PRICES, Pipeline
from tests.support.polling import wait_for
from tests.support.stripe_api import FakeStripeApi
from tests.support.tcp_proxy import TcpProxy, proxied

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CANARY = secrets.token_hex(6)
STRIPE_KEY = f"sk_test_canary{CANARY}stripekey"
WEBHOOK_SECRET = f"whsec_canary{CANARY}webhook"
ROTATED_SECRET = f"whsec_canary{CANARY}rotated"
DB_PASSWORD = f"canary{CANARY}dbpassword"
API_KEY = f"canary-{CANARY}-apikey"
JWT_SECRET = f"canary-{CANARY}-jwt-secret-at-least-32-bytes"
ROLE = f"atlas_canary_{CANARY}"
WRITE_FAILED = "Postgres write failed"
# What each service's log must show, so the search below is not over empty logs.
EXPECTED_LINES = {
    "ingress.log": ["invalid_signature", "stale_timestamp", "malformed_signature"],
    "api.log": ["invalid credentials", "bad signature", "Postgres read failed"],
    "worker.log": ["could not fetch subscription"],
    "sink.log": [WRITE_FAILED],
}
SECRETS = {
    "STRIPE_SECRET_KEY": STRIPE_KEY,
    "webhook secret": WEBHOOK_SECRET,
    "rotated webhook secret": ROTATED_SECRET,
    "database password": DB_PASSWORD,
    "API key": API_KEY,
    "JWT secret": JWT_SECRET,
}


@dataclass
class Seen:
    """Everything the services said: error bodies and CLI output, by where it came from."""

    texts: dict[str, str] = field(default_factory=dict)

    def add(self, where: str, text: str) -> None:
        self.texts[f"{len(self.texts):02d} {where}"] = text

    def response(self, where: str, response: httpx.Response) -> httpx.Response:
        self.add(f"{where} → {response.status_code}", f"{response.headers}\n{response.text}")
        return response


@dataclass
class Secretive:
    pipeline: Pipeline
    proxy: TcpProxy
    stripe: FakeStripeApi


def _role_url(database_url: str) -> str:
    """A login role with a password on the module's database, and its URL."""
    execute(database_url, f"CREATE ROLE {ROLE} LOGIN PASSWORD '{DB_PASSWORD}'")
    execute(database_url, f"GRANT USAGE ON SCHEMA public TO {ROLE}")
    execute(database_url, f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {ROLE}")
    execute(database_url, f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {ROLE}")
    url = make_url(database_url).set(username=ROLE, password=DB_PASSWORD)
    return url.render_as_string(hide_password=False)


def _drop_role(database_url: str) -> None:
    execute(database_url, f"DROP OWNED BY {ROLE}")
    execute(database_url, f"DROP ROLE {ROLE}")


@pytest.fixture(scope="module")
def secretive(
    kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Secretive]:
    workdir = tmp_path_factory.mktemp("secretive")
    proxy, through = proxied(_role_url(database_url), workdir)
    stripe = FakeStripeApi("sk_test_the_key_stripe_expects_" + "e" * 16).start()  # refuses ours
    pipeline = Pipeline(
        kafka_bootstrap,
        database_url,  # the tests' own reads; the services get the role's URL below
        workdir,
        DATABASE_URL=through,
        STRIPE_SECRET_KEY=STRIPE_KEY,
        STRIPE_API_BASE=stripe.url,
        STRIPE_WEBHOOK_SECRET=f"{WEBHOOK_SECRET},{ROTATED_SECRET}",
        ATLAS_API_KEYS=f"svc:{API_KEY}",
        ATLAS_AUTH_JWT_SECRET=JWT_SECRET,
        ATLAS_CHECKOUT_SUCCESS_URL="https://app.example.com/ok",
        ATLAS_CHECKOUT_CANCEL_URL="https://app.example.com/pricing",
        ATLAS_PORTAL_RETURN_URL="https://app.example.com/settings",
        ATLAS_LOG_LEVEL="DEBUG",
        ATLAS_FAUST_LOG_LEVEL="INFO",
        ATLAS_LOG_FORMAT="json",
    ).start()
    yield Secretive(pipeline, proxy, stripe)
    pipeline.stop()
    proxy.close()
    stripe.stop()
    _drop_role(database_url)


def _post(pipeline: Pipeline, body: bytes, signature: str) -> httpx.Response:
    headers = {"content-type": "application/json", "stripe-signature": signature}
    return pipeline.http.post("/stripe/webhook", content=body, headers=headers)


def _token(user: str, secret: str = JWT_SECRET) -> str:
    claims = {"sub": user, "aud": "atlas-tests", "exp": int(time.time()) + 300}
    return jwt.encode(claims, secret, algorithm="HS256")


def _drive_the_ingress(pipeline: Pipeline, seen: Seen, customer: str) -> None:
    event = build.subscription_event("created", customer, build.new_id("sub"), PRICES["pro"])
    body = orjson.dumps(event)
    assert _post(pipeline, body, sign(body, ROTATED_SECRET)).status_code == 200
    cases = {
        "bad signature": f"t={int(time.time())},v1={'0' * 64}",
        "someone else's secret": sign(body, "whsec_someone_else"),
        "stale": sign(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 400),
        "malformed": "v1=" + WEBHOOK_SECRET,  # a sender pasting the secret into the header
    }
    for name, signature in cases.items():
        assert seen.response(f"webhook {name}", _post(pipeline, body, signature)).status_code == 400
    not_json = b"not json " + WEBHOOK_SECRET.encode()
    seen.response("webhook not json", _post(pipeline, not_json, sign(not_json, WEBHOOK_SECRET)))
    # Checkout names a subscription no event described: the worker asks Stripe, which
    # refuses Atlas's key.
    checkout = build.checkout_completed(build.new_id("cus"), build.new_id("sub"), "user_canary")
    assert pipeline.post(checkout, secret=WEBHOOK_SECRET).status_code == 200


def _drive_the_api(pipeline: Pipeline, seen: Seen, presented: dict[str, str]) -> None:
    api = pipeline.api_url
    wrong_key = f"canary-{CANARY}-wrong-key"
    forged = _token("user_canary", secret=f"canary-{CANARY}-forged-secret-of-32-bytes")
    mine = _token("user_canary")
    presented.update({"a wrong API key": wrong_key, "a forged JWT": forged, "a user's JWT": mine})
    attempts = {
        "wrong X-API-Key": {"x-api-key": wrong_key},
        "wrong bearer key": {"authorization": f"Bearer {wrong_key}"},
        "forged JWT": {"authorization": f"Bearer {forged}"},
        "JWT for another user": {"authorization": f"Bearer {mine}"},
    }
    for name, headers in attempts.items():
        response = httpx.get(f"{api}/v1/users/someone_else/entitlements", headers=headers)
        assert seen.response(f"api {name}", response).status_code in (401, 403)
    service = {"x-api-key": API_KEY}
    checkout = httpx.post(
        f"{api}/v1/billing/checkout", json={"plan": "pro", "user_id": "u1"}, headers=service
    )
    assert seen.response("api checkout, Stripe refuses the key", checkout).status_code == 502


def _drive_a_database_outage(secretive: Secretive, seen: Seen) -> None:
    pipeline = secretive.pipeline
    secretive.proxy.cut()
    try:
        customer = build.new_id("cus")
        event = build.subscription_event("created", customer, build.new_id("sub"), PRICES["pro"])
        assert pipeline.post(event, secret=WEBHOOK_SECRET).status_code == 200
        service = {"x-api-key": API_KEY}
        response = httpx.get(
            f"{pipeline.api_url}/v1/customers/{customer}/entitlements", headers=service, timeout=30
        )
        assert seen.response("api, Postgres down", response).status_code == 503
        seen.response("api readyz, Postgres down", httpx.get(f"{pipeline.api_url}/readyz"))
        for command in (
            ["migrate"],
            ["overrides", "list", "--customer", customer],
            ["doctor", customer],
        ):
            done = pipeline.cli(*command, timeout_s=120)
            seen.add(f"atlas {' '.join(command)}, Postgres down", done.stdout + done.stderr)
        wait_for(lambda: WRITE_FAILED in _log(pipeline, "sink"), 60, "a failed write logged")
    finally:
        secretive.proxy.restore()
    wait_for(lambda: subscription_row(pipeline.database_url, customer), 90, "the row after")


def _log(pipeline: Pipeline, service: str) -> str:
    return (pipeline.workdir / f"{service}.log").read_text(errors="replace")


def _drive_the_cli(pipeline: Pipeline, seen: Seen, presented: dict[str, str]) -> None:
    done = pipeline.cli("reconcile", "--all", "--dry-run", timeout_s=120)
    seen.add("atlas reconcile, Stripe refuses the key", done.stdout + done.stderr)
    refused_settings = {  # variable: (value, the command that checks it)
        "STRIPE_WEBHOOK_SECRET": (f"canary{CANARY}notwhsec", "ingress"),
        "DATABASE_URL": (f"mysql://root:{DB_PASSWORD}@127.0.0.1/atlas", "api"),
        "ATLAS_API_KEYS": (f"canary{CANARY}nonamekey", "api"),
    }
    for variable, (value, command) in refused_settings.items():
        presented[f"a refused {variable}"] = value
        done = subprocess.run(
            [sys.executable, "-m", "atlas.cli", command, "--port", str(free_port())],
            env={**pipeline.env, variable: value},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2 and variable in done.stderr, done.stderr
        seen.add(f"atlas {command} with a bad {variable}", done.stdout + done.stderr)


def _metrics(pipeline: Pipeline, seen: Seen) -> None:
    ports = {"ingress": pipeline.port, **pipeline.metrics_ports}
    for service, port in ports.items():
        page = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert page.status_code == 200
        seen.add(f"{service} /metrics", page.text)


def _logs(workdir: Path) -> dict[str, str]:
    return {path.name: path.read_text(errors="replace") for path in workdir.glob("*.log")}


def test_no_secret_in_any_log_error_or_metric(secretive: Secretive) -> None:
    pipeline = secretive.pipeline
    seen = Seen()
    presented: dict[str, str] = {}
    customer = build.new_id("cus")
    _drive_the_ingress(pipeline, seen, customer)
    pipeline.wait_row(customer, plan="pro")
    _drive_the_api(pipeline, seen, presented)
    _drive_a_database_outage(secretive, seen)
    _drive_the_cli(pipeline, seen, presented)
    _metrics(pipeline, seen)

    logs = _logs(pipeline.workdir)
    for name, lines in EXPECTED_LINES.items():
        assert all(line in logs[name] for line in lines), f"{name} lacks one of {lines}"
    everything = {**{f"log {name}": text for name, text in logs.items()}, **seen.texts}
    leaks = [
        f"{what} in {where}"
        for what, value in {**SECRETS, **presented}.items()
        for where, text in everything.items()
        if value in text
    ]
    assert not leaks, "\n".join(leaks)
