"""Per-user overrides through the real pipeline: `atlas grant` / `atlas revoke` / `atlas
overrides clear` and `POST /v1/users/{id}/overrides` change exactly one user's access, lapse
on their own, and are audited (who, when, why)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import httpx
import jwt
import pytest

from tests import stripe_builders as build
from tests.support.pipeline import JWT_SECRET, PRICES, Pipeline
from tests.support.polling import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

PRO = ["api-access", "data-exploration", "exports", "team-seats"]


def pro_customer(pipeline: Pipeline) -> tuple[str, str]:
    customer, user = build.new_id("cus"), build.new_id("user")
    for event in build.subscribed(customer, user, PRICES["pro"], created=int(time.time()) - 60):
        pipeline.post_ok(event)
    pipeline.wait_row(customer, plan="pro")
    return customer, user


@pytest.fixture
def pro(pipeline: Pipeline) -> Iterator[tuple[str, str]]:
    yield pro_customer(pipeline)


def cli_ok(pipeline: Pipeline, *args: str) -> str:
    result = pipeline.cli(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_grant_with_a_limit_then_clear(pipeline: Pipeline, pro: tuple[str, str]) -> None:
    customer, user = pro
    other, _ = pro_customer(pipeline)
    out = cli_ok(
        pipeline, "grant", "--user", user, "--feature", "advisory-sessions", "--limit", "2",
        "--reason", "beta tester", "--by", "ops@example.com",
    )  # fmt: skip
    assert f"advisory-sessions for customer {customer} (user {user})" in out
    row = pipeline.wait_row(customer, features=sorted([*PRO, "advisory-sessions"]))
    assert row["limits"]["advisory-sessions"] == 2 and row["plan"] == "pro"
    assert "advisory-sessions" not in pipeline.row(other)["features"]  # type: ignore[index]

    cli_ok(pipeline, "overrides", "clear", "--user", user, "--feature", "advisory-sessions",
           "--reason", "beta over")  # fmt: skip
    pipeline.wait_row(customer, features=PRO)

    listing = cli_ok(pipeline, "overrides", "list", "--user", user)
    assert "advisory-sessions" in listing and "clear" in listing and "beta over" in listing


def test_revoke_takes_a_plan_feature_away(pipeline: Pipeline, pro: tuple[str, str]) -> None:
    customer, user = pro
    cli_ok(pipeline, "revoke", "--customer", customer, "--feature", "exports",
           "--reason", "abuse report 1234")  # fmt: skip
    row = pipeline.wait_row(customer, features=["api-access", "data-exploration", "team-seats"])
    assert row["plan"] == "pro"


def test_a_grant_lapses_on_its_own(pipeline: Pipeline, pro: tuple[str, str]) -> None:
    customer, user = pro
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 5))
    cli_ok(pipeline, "grant", "--user", user, "--feature", "priority-support", "--until", until,
           "--reason", "trial week")  # fmt: skip
    pipeline.wait_row(customer, features=sorted([*PRO, "priority-support"]))
    pipeline.wait_row(customer, features=PRO, timeout_s=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grant", "--user", "nobody-known", "--feature", "exports"], "no Stripe customer"),
        (["grant", "--customer", "cus_x", "--feature", "teleport"], "unknown feature 'teleport'"),
        (["revoke", "--customer", "cus_x", "--feature", "exports", "--until", "2001-01-01"],
         "until must lie in the future"),
        (["grant", "--customer", "cus_x", "--feature", "exports", "--until", "soon"],
         "is not a date"),
        (["grant", "--customer", "cus_x", "--feature", "exports", "--limit", "-1"], "limit"),
    ],
)  # fmt: skip
def test_bad_override_commands_exit_2(pipeline: Pipeline, args: list[str], message: str) -> None:
    result = pipeline.cli(*args, "--reason", "test")
    assert result.returncode == 2
    assert message in result.stderr, result.stderr


def user_token(user: str) -> str:
    claims = {"sub": user, "aud": "atlas-tests", "exp": int(time.time()) + 60}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def test_api_grants_lists_and_audits(pipeline: Pipeline, pro: tuple[str, str]) -> None:
    customer, user = pro
    response = pipeline.api.post(
        f"/v1/users/{user}/overrides",
        json={"feature": "advisory-sessions", "effect": "grant", "reason": "support ticket 77"},
    )
    assert response.status_code == 202, response.text
    override = response.json()["override"]
    assert override["applied_by"] == "tests" and override["customer_id"] == customer
    pipeline.wait_row(customer, features=sorted([*PRO, "advisory-sessions"]))

    def listed() -> list[dict[str, object]] | None:
        found = pipeline.api.get(f"/v1/users/{user}/overrides").json()["overrides"]
        return found or None

    entries = wait_for(listed, 20, "the override in the audit table")
    assert entries == [
        {
            "feature": "advisory-sessions", "effect": "grant", "limit": None, "until": None,
            "active": True, "applied_at": entries[0]["applied_at"], "applied_by": "tests",
            "reason": "support ticket 77", "override_id": override["override_id"],
        }
    ]  # fmt: skip
    with httpx.Client(base_url=pipeline.api_url) as client:
        own = client.get(
            f"/v1/users/{user}/overrides", headers={"authorization": f"Bearer {user_token(user)}"}
        )
        change = client.post(
            f"/v1/users/{user}/overrides",
            json={"feature": "exports", "effect": "grant", "reason": "me"},
            headers={"authorization": f"Bearer {user_token(user)}"},
        )
    assert own.status_code == 200 and own.json()["overrides"][0]["feature"] == "advisory-sessions"
    assert change.status_code == 403


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"feature": "teleport", "effect": "grant", "reason": "x"}, "unknown feature"),
        ({"feature": "exports", "effect": "revoke", "limit": 3, "reason": "x"}, "limit"),
        ({"feature": "exports", "effect": "grant", "until": "2001-01-01", "reason": "x"}, "future"),
        ({"feature": "exports", "effect": "grant", "reason": ""}, "reason"),
        ({"feature": "exports", "effect": "grant", "reason": "x", "extra": 1}, "unknown fields"),
        ({"feature": "exports", "effect": "maybe", "reason": "x"}, "effect must be one of"),
        ([1, 2], "JSON object"),
    ],
)
def test_api_rejects_bad_overrides(
    pipeline: Pipeline, pro: tuple[str, str], body: object, message: str
) -> None:
    _, user = pro
    response = pipeline.api.post(f"/v1/users/{user}/overrides", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_override" and message in response.json()["message"]


def test_api_override_for_an_unknown_user_is_404(pipeline: Pipeline) -> None:
    response = pipeline.api.post(
        "/v1/users/nobody-at-all/overrides",
        json={"feature": "exports", "effect": "grant", "reason": "x"},
    )
    assert response.status_code == 404


def test_a_feature_granted_by_a_live_override_cannot_be_removed(
    pipeline: Pipeline, pro: tuple[str, str], tmp_path: Path
) -> None:
    customer, user = pro
    cli_ok(pipeline, "grant", "--user", user, "--feature", "priority-support", "--reason", "vip")
    wait_for(
        lambda: "priority-support" in pipeline.api.get(f"/v1/users/{user}/overrides").text,
        20,
        "the grant in the audit table",
    )
    default = resources.files("atlas").joinpath("default_catalog.toml").read_text()
    without = default.replace(', "priority-support",', ",").replace(
        '[features.priority-support]\nbit = 5\ndescription = "Support answers within one '
        'business day"\n',
        "",
    )
    path = tmp_path / "without.toml"
    path.write_text(without)
    refused = pipeline.cli("catalog", "apply", str(path), "--reason", "retire priority support")
    assert refused.returncode == 2
    assert "feature 'priority-support' is removed but live overrides still grant it" in (
        refused.stderr
    )
    assert customer in refused.stderr

    cli_ok(pipeline, "overrides", "clear", "--user", user, "--feature", "priority-support",
           "--reason", "retiring it")  # fmt: skip
    wait_for(
        lambda: '"effect":"clear"' in pipeline.api.get(f"/v1/users/{user}/overrides").text,
        20,
        "the clear in the audit table",
    )
    cli_ok(pipeline, "catalog", "apply", str(path), "--reason", "retire priority support")
