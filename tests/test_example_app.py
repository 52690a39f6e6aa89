"""The example service (examples/reports_app) gates two endpoints on two features, against
the running pipeline: allowed, denied with a 403 naming feature, plan and upgrade URL, an
unknown user denied, no user 401; `atlas features check` passes on it and fails when the
catalog lacks a feature it gates on."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import pytest

from tests import stripe_builders as build
from tests.support.example_app import running_example
from tests.support.pipeline import PRICES, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parent.parent
UPGRADE_URL = "https://example.com/pricing"


@pytest.fixture(scope="module")
def example(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("example") / "example.log"
    with running_example(pipeline, log, UPGRADE_URL=UPGRADE_URL) as url:
        yield url


def customer_on(pipeline: Pipeline, price: str) -> str:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, price, created=int(time.time()) - 60):
        pipeline.post_ok(event)
    pipeline.wait_row(customer, plan=[k for k, v in PRICES.items() if v == price][0])
    return user


def get(url: str, path: str, user: str | None) -> httpx.Response:
    headers = {"x-user-id": user} if user else {}
    return httpx.get(url + path, headers=headers)


def test_allowed_on_both_endpoints(pipeline: Pipeline, example: str) -> None:
    user = customer_on(pipeline, PRICES["advisory"])
    export = get(example, "/reports/export", user)
    assert export.status_code == 200 and export.json() == {"report": "q3.csv", "plan": "advisory"}
    assert get(example, "/advisor/slots", user).status_code == 200


def test_denied_names_feature_plan_and_upgrade(pipeline: Pipeline, example: str) -> None:
    user = customer_on(pipeline, PRICES["pro"])
    assert get(example, "/reports/export", user).status_code == 200
    denied = get(example, "/advisor/slots", user)
    assert denied.status_code == 403
    body = denied.json()
    assert body["error"] == "feature_required" and body["feature"] == "advisory-sessions"
    assert body["plan"] == "pro" and body["reason"] == "not_in_plan"
    assert body["upgrade_url"] == UPGRADE_URL and body["message"]


def test_unknown_user_is_denied(example: str) -> None:
    denied = get(example, "/reports/export", "user-atlas-never-heard-of")
    assert denied.status_code == 403
    assert denied.json()["reason"] == "unknown_user" and denied.json()["plan"] is None


def test_no_user_is_401(example: str) -> None:
    response = get(example, "/reports/export", None)
    assert response.status_code == 401 and response.json()["error"] == "unauthenticated"


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atlas.cli", "features", "check", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )


def test_features_check_passes_on_the_example() -> None:
    result = run_check("--import", "examples.reports_app.app")
    assert result.returncode == 0, result.stderr
    assert "exports" in result.stdout and "advisory-sessions" in result.stdout
    assert "all 2 gated feature(s) are in the catalog file" in result.stdout


def test_features_check_fails_on_a_feature_the_catalog_lacks(tmp_path: Path) -> None:
    default = resources.files("atlas").joinpath("default_catalog.toml").read_text()
    without = default.replace('"advisory-sessions", ', "").replace(
        '[features.advisory-sessions]\nbit = 4\ndescription = "Book sessions with an advisor"\n',
        "",
    )
    without = without.replace("advisory-sessions = 4\n", "")
    catalog = tmp_path / "catalog.toml"
    catalog.write_text(without)
    result = run_check("--import", "examples.reports_app.app", "--catalog", str(catalog))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "MISSING  advisory-sessions" in result.stdout
    assert "missing from the catalog file: advisory-sessions" in result.stderr


def test_features_check_reports_an_unimportable_module() -> None:
    result = run_check("--import", "examples.no_such_module")
    assert result.returncode == 2
    assert "cannot import examples.no_such_module" in result.stderr
