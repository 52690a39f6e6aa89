"""Schemathesis against the running services' own ``/openapi.json``, over real HTTP: every
operation each service serves, with and without credentials. No answer may be a 5xx, and every
answer must be one the document lists, with its content type, headers and schema.

A bounded number of examples per operation keeps the whole module under a minute; more with
``ATLAS_FUZZ_EXAMPLES=500 scripts/test tests/test_openapi_fuzz.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import stripe_builders as build
from tests.support.database import fetch_all
from tests.support.pipeline import API_KEY, JWT_SECRET, PRICES, WEBHOOK_SECRET, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

USES_STRIPE_API = True  # billing answers for real instead of 503 billing_not_configured
PIPELINE_ENV = {
    "ATLAS_CHECKOUT_SUCCESS_URL": "https://app.example.com/billing/success",
    "ATLAS_CHECKOUT_CANCEL_URL": "https://app.example.com/pricing",
    "ATLAS_PORTAL_RETURN_URL": "https://app.example.com/settings",
}
ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = os.environ.get("ATLAS_FUZZ_EXAMPLES", "50")
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,"
    "response_headers_conformance,response_schema_conformance"
)
# Which operations of the one document each service serves (README "HTTP").
INGRESS_PATHS = r"^/(stripe/webhook|metrics|openapi\.json|healthz|readyz)$"
API_PATHS = r"^/(v1/.+|openapi\.json|healthz|readyz)$"


USER, CUSTOMER = "fuzz-user", "cus_fuzz"
FORWARDED = ("not_a_stripe_event", "implausible_created", "accepted")  # signature passed


def user_token() -> str:
    claims = {"sub": USER, "aud": "atlas-tests", "exp": int(time.time()) + 600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def known_user(pipeline: Pipeline) -> dict[str, str]:
    """A user with a subscription, an invoice and an override, whose ids the fuzzer also uses."""
    start = int(time.time()) - 600
    events = build.subscribed(CUSTOMER, USER, PRICES["pro"], created=start)
    sub = events[-1]["data"]["object"]["id"]
    events.append(build.invoice_event("invoice.paid", CUSTOMER, sub, PRICES["pro"], created=start))
    for event in events:
        pipeline.post_ok(event)
    pipeline.wait_row(CUSTOMER, plan="pro", user_id=USER)
    override = {"feature": "exports", "effect": "revoke", "reason": "fuzzing"}
    assert pipeline.api.post(f"/v1/users/{USER}/overrides", json=override).status_code == 202
    return {"ATLAS_FUZZ_USER_ID": USER, "ATLAS_FUZZ_CUSTOMER_ID": CUSTOMER}


def forwarded_webhooks(pipeline: Pipeline) -> float:
    """Webhooks whose signature checked out, by the ingress's own count."""
    text = httpx.get(f"{pipeline.url}/metrics").text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "atlas_webhooks_total" and sample.labels["outcome"] in FORWARDED
    )


def schemathesis(
    url: str, paths: str, headers: dict[str, str], env: dict[str, str], workdir: Path
) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{url}/openapi.json",
        "--include-path-regex",
        paths,
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        EXAMPLES,
        "--request-timeout",
        "20",
        "--generation-database",
        ":memory:",
        "--report",
        "junit",
        "--report-dir",
        str(workdir),
        *(option for name, value in headers.items() for option in ("-H", f"{name}: {value}")),
    ]
    hooks = {"SCHEMATHESIS_HOOKS": "tests.support.schemathesis_hooks", "PYTHONPATH": str(ROOT)}
    return subprocess.run(  # in workdir: schemathesis keeps a cache in the working directory
        command,
        cwd=workdir,
        env={**os.environ, **hooks, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    ("service", "credentials"),
    [
        ("ingress", "unsigned"),
        ("ingress", "signed"),
        ("api", "none"),
        ("api", "service key"),
        ("api", "user token"),
    ],
)
def test_no_5xx_and_every_answer_is_documented(
    pipeline: Pipeline, known_user: dict[str, str], tmp_path: Path, service: str, credentials: str
) -> None:
    url, paths = (
        (pipeline.url, INGRESS_PATHS)
        if service == "ingress"
        else (
            pipeline.api_url,
            API_PATHS,
        )
    )
    headers = {
        "service key": {"Authorization": f"Bearer {API_KEY}"},
        "user token": {"Authorization": f"Bearer {user_token()}"},
    }.get(credentials, {})
    env = {"ATLAS_FUZZ_SIGNING_SECRET": WEBHOOK_SECRET} if credentials == "signed" else {}
    forwarded = forwarded_webhooks(pipeline)
    done = schemathesis(url, paths, headers, {**known_user, **env}, tmp_path)
    assert done.returncode == 0, done.stdout[-12000:] + done.stderr[-4000:]
    assert pipeline.processes[service].poll() is None, f"{service} died"
    if credentials == "signed":
        assert forwarded_webhooks(pipeline) > forwarded, "no fuzzed webhook got past the signature"


def test_after_the_fuzzing_events_and_overrides_still_flow(pipeline: Pipeline) -> None:
    """Fuzzed webhooks with good signatures were published and fuzzed overrides applied: none
    of them may have stopped the worker or the sink for everyone else."""
    customer = build.new_id("cus")
    pipeline.post_ok(build.subscription_event("created", customer, build.new_id("sub"), "p"))
    pipeline.wait_row(customer, unknown_price=True)
    override = {"feature": "exports", "effect": "grant", "reason": "after fuzzing"}
    assert pipeline.api.post(f"/v1/users/{USER}/overrides", json=override).status_code == 202
    wait_for(
        lambda: fetch_all(
            pipeline.database_url, "SELECT 1 FROM overrides WHERE reason = 'after fuzzing'"
        ),
        30,
        "the override in its table",
    )
    for service, process in pipeline.processes.items():
        assert process.poll() is None, f"{service} died"
