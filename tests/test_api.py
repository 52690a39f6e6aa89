"""The entitlements API over real HTTP, reading rows the running pipeline wrote to Postgres."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.routing import Route

from api.app import create_app as create_api
from api.auth import Authenticator
from api.openapi import openapi_document
from api.openapi_markdown import replace_section
from atlas.catalog import load_catalog
from atlas.settings import load_settings
from ingress.app import create_app as create_ingress
from tests import stripe_builders as build
from tests.support.pipeline import JWT_SECRET, PRICES, Pipeline

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


def user_token(user: str, *, audience: str = "atlas-tests", expires_in: int = 60) -> str:
    claims = {"sub": user, "aud": audience, "exp": int(time.time()) + expires_in}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def pro_user(pipeline: Pipeline) -> Iterator[tuple[str, str]]:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, PRICES["pro"], created=int(time.time()) - 60):
        pipeline.post_ok(event)
    pipeline.wait_row(customer, plan="pro")
    yield customer, user


def test_user_entitlements_body(pipeline: Pipeline, pro_user: tuple[str, str]) -> None:
    customer, user = pro_user
    response = pipeline.api.get(f"/v1/users/{user}/entitlements")
    assert response.status_code == 200, response.text
    body = response.json()
    row = pipeline.row(customer)
    assert row is not None
    assert body["customer_id"] == customer and body["user_id"] == user
    assert body["plan"] == "pro" and body["status"] == "active"
    assert body["features"] == sorted(row["features"]) and "exports" in body["features"]
    assert body["limits"] == row["limits"] and body["feature_bits"] == row["feature_bits"]
    assert body["version"] == row["version"]
    assert body["banner"] is None and body["grace_until"] is None
    assert body["current_period_end"].endswith("Z")
    assert response.headers["cache-control"] == "private, no-cache"


def test_etag_revalidation(pipeline: Pipeline, pro_user: tuple[str, str]) -> None:
    _, user = pro_user
    first = pipeline.api.get(f"/v1/users/{user}/entitlements")
    etag = first.headers["etag"]
    again = pipeline.api.get(f"/v1/users/{user}/entitlements", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    other = pipeline.api.get(f"/v1/users/{user}/entitlements", headers={"if-none-match": '"1-x"'})
    assert other.status_code == 200


def test_etag_changes_with_the_row(pipeline: Pipeline) -> None:
    customer, user = build.new_id("cus"), build.new_id("user")
    start = int(time.time()) - 60
    checkout, created = build.subscribed(customer, user, PRICES["pro"], created=start)
    pipeline.post_ok(checkout)
    pipeline.post_ok(created)
    pipeline.wait_row(customer, plan="pro")
    etag = pipeline.api.get(f"/v1/users/{user}/entitlements").headers["etag"]
    sub = created["data"]["object"]["id"]
    pipeline.post_ok(
        build.subscription_event("updated", customer, sub, PRICES["advisory"], created=start + 5)
    )
    pipeline.wait_row(customer, plan="advisory")
    fresh = pipeline.api.get(f"/v1/users/{user}/entitlements", headers={"if-none-match": etag})
    assert fresh.status_code == 200 and fresh.json()["plan"] == "advisory"
    assert fresh.headers["etag"] != etag


def test_customer_entitlements(pipeline: Pipeline, pro_user: tuple[str, str]) -> None:
    customer, user = pro_user
    response = pipeline.api.get(f"/v1/customers/{customer}/entitlements")
    assert response.status_code == 200 and response.json()["user_id"] == user
    missing = pipeline.api.get("/v1/customers/cus_nobody/entitlements")
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_customer"


def test_unknown_user_is_404(pipeline: Pipeline) -> None:
    response = pipeline.api.get("/v1/users/nobody-at-all/entitlements")
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_user"


@pytest.mark.parametrize("user_id", ["%20padded", "tab%09inside", "x" * 257])
def test_malformed_user_id_is_400(pipeline: Pipeline, user_id: str) -> None:
    response = pipeline.api.get(f"/v1/users/{user_id}/entitlements")
    assert response.status_code == 400 and response.json()["error"] == "invalid_user_id"


def test_missing_and_wrong_credentials_are_401(
    pipeline: Pipeline, pro_user: tuple[str, str]
) -> None:
    _, user = pro_user
    with httpx.Client(base_url=pipeline.api_url) as anonymous:
        bare = anonymous.get(f"/v1/users/{user}/entitlements")
        wrong = anonymous.get(
            f"/v1/users/{user}/entitlements", headers={"authorization": "Bearer not-a-key-at-all"}
        )
    for response in (bare, wrong):
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_user_reads_only_their_own(pipeline: Pipeline, pro_user: tuple[str, str]) -> None:
    customer, user = pro_user
    with httpx.Client(base_url=pipeline.api_url) as client:
        own = client.get(
            f"/v1/users/{user}/entitlements",
            headers={"authorization": f"Bearer {user_token(user)}"},
        )
        theirs = client.get(
            f"/v1/users/{user}/entitlements",
            headers={"authorization": f"Bearer {user_token('someone-else')}"},
        )
        their_customer = client.get(
            f"/v1/customers/{customer}/entitlements",
            headers={"authorization": f"Bearer {user_token('someone-else')}"},
        )
        expired = client.get(
            f"/v1/users/{user}/entitlements",
            headers={"authorization": f"Bearer {user_token(user, expires_in=-120)}"},
        )
        wrong_audience = client.get(
            f"/v1/users/{user}/entitlements",
            headers={"authorization": f"Bearer {user_token(user, audience='other')}"},
        )
    assert own.status_code == 200 and own.json()["user_id"] == user
    assert theirs.status_code == 403 and theirs.json()["error"] == "forbidden"
    assert their_customer.status_code == 403
    assert expired.status_code == 401 and "expired" in expired.json()["message"]
    assert wrong_audience.status_code == 401 and "audience" in wrong_audience.json()["message"]


def test_catalog_endpoint_serves_the_catalog_in_force(pipeline: Pipeline) -> None:
    response = pipeline.api.get("/v1/catalog")
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == 0
    assert body["features"]["exports"]["bit"] == 1
    assert list(body["plans"]) == ["free", "pro", "advisory"]
    assert body["plans"]["pro"]["grace_days"] == 7


def test_openapi_describes_every_route(pipeline: Pipeline) -> None:
    for client in (pipeline.http, pipeline.api):
        served = client.get("/openapi.json")
        assert served.status_code == 200 and served.json() == openapi_document()
    documented = set(openapi_document()["paths"])
    served_paths = _route_paths()
    assert served_paths <= documented, f"undocumented: {served_paths - documented}"
    assert documented <= served_paths, f"documented but not served: {documented - served_paths}"


def _route_paths() -> set[str]:
    """Every path the ingress and the API serve, read from their route tables."""
    settings = load_settings(
        {"KAFKA_BOOTSTRAP_SERVERS": "unused:9092", "STRIPE_WEBHOOK_SECRET": "whsec_unused"}
    )
    engine = create_async_engine("postgresql+psycopg://unused/unused")
    apps = [
        create_ingress(settings),
        create_api(engine, Authenticator([]), load_catalog()),
    ]
    return {
        route.path.replace(":path}", "}")
        for app in apps
        for route in app.routes
        if isinstance(route, Route)
    }


def test_readme_renders_the_current_openapi_document() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert replace_section(readme) == readme, "run scripts/render-openapi"
