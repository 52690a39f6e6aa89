"""A fresh, migrated database per test module, and row reads for assertions."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.rows import dict_row
from sqlalchemy.engine import make_url

from sinks.database import migrate


def _libpq(url: str) -> str:
    """A psycopg connection string from a postgresql:// URL (also socket URLs with ?host=)."""
    parsed = make_url(url)
    parts = {
        "host": parsed.query.get("host") or parsed.host or "",
        "port": parsed.port or "",
        "user": parsed.username or "",
        "password": parsed.password or "",
        "dbname": parsed.database or "",
    }
    return " ".join(f"{key}={value}" for key, value in parts.items() if value)


def with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def create_database(admin_url: str) -> str:
    name = f"atlas_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    migrate(url)
    return url


def drop_database(admin_url: str, url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_libpq(admin_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fetch_all(url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(_libpq(url), row_factory=dict_row) as connection:
        return connection.execute(query, params).fetchall()


def subscription_row(url: str, customer: str) -> dict[str, Any] | None:
    rows = fetch_all(url, "SELECT * FROM subscriptions WHERE stripe_customer_id = %s", customer)
    return rows[0] if rows else None


def execute(url: str, statement: str) -> None:
    with psycopg.connect(_libpq(url), autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]
