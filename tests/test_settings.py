"""A missing or malformed setting stops a command at start with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from atlas.settings import SettingsError, load_settings

BASE = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9", "DATABASE_URL": "postgresql://x@127.0.0.1/db"}


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DATABASE_URL": "postgresql://x@h/db"}, "KAFKA_BOOTSTRAP_SERVERS"),
        ({**BASE, "STRIPE_WEBHOOK_SECRET": "nope"}, "STRIPE_WEBHOOK_SECRET"),
        ({**BASE, "STRIPE_PRICE_ID_PRO": " , "}, "STRIPE_PRICE_ID_PRO"),
        ({**BASE, "STRIPE_PRICE_ID_PRO": "price 1"}, "STRIPE_PRICE_ID_PRO"),
        ({**BASE, "ATLAS_PUBLISH_TIMEOUT": "soon"}, "ATLAS_PUBLISH_TIMEOUT"),
        ({**BASE, "ATLAS_TOPIC_PARTITIONS": "2.5"}, "ATLAS_TOPIC_PARTITIONS"),
        ({**BASE, "ATLAS_CATALOG": "/nonexistent.toml"}, "ATLAS_CATALOG"),
        ({**BASE, "ATLAS_WORKER_STORE": "redis://"}, "ATLAS_WORKER_STORE"),
        ({**BASE, "DATABASE_URL": "mysql://x@h/db"}, "DATABASE_URL"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env, need_database=True)


def test_webhook_secret_required_for_ingress() -> None:
    with pytest.raises(SettingsError, match="STRIPE_WEBHOOK_SECRET"):
        load_settings(BASE, need_webhook_secret=True)


def test_lists_and_secrets_are_parsed_and_not_in_repr() -> None:
    settings = load_settings(
        {
            **BASE,
            "STRIPE_WEBHOOK_SECRET": "whsec_one, whsec_two",
            "STRIPE_SECRET_KEY": "sk_test_hidden",
            "STRIPE_PRICE_ID_PRO": "price_a,price_b",
        },
        need_webhook_secret=True,
    )
    assert settings.webhook_secrets == ("whsec_one", "whsec_two")
    assert settings.price_ids == {"pro": ("price_a", "price_b")}
    assert "whsec_" not in repr(settings) and "sk_test" not in repr(settings)


@pytest.mark.parametrize("command", ["ingress", "worker", "sink", "migrate"])
def test_cli_stops_with_one_line(command: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA", "DATABASE", "STRIPE"))}
    result = subprocess.run(
        [sys.executable, "-m", "atlas.cli", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"atlas {command}: ")
    assert "KAFKA_BOOTSTRAP_SERVERS" in lines[0] or "DATABASE_URL" in lines[0]


def test_migrate_against_an_unreachable_database_is_one_line_without_the_password() -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",
        "DATABASE_URL": "postgresql://atlas:s3cret-pw@127.0.0.1:1/atlas",
    }
    result = subprocess.run(
        [sys.executable, "-m", "atlas.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        "atlas migrate: could not migrate postgresql://atlas:***@127.0.0.1:1/atlas"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    assert "s3cret-pw" not in result.stderr + result.stdout
