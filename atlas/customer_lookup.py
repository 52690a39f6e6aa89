"""Which Stripe customer a command means: ``--customer`` as given, ``--user`` looked up in
Postgres (the customer Atlas has linked to that user)."""

from __future__ import annotations

import asyncio
from typing import Any

from api import queries
from atlas.errors import AtlasError
from atlas.settings import Settings
from sinks.database import async_engine


class UnknownUser(AtlasError):
    """The user has no Stripe customer Atlas knows of, or it cannot be looked up."""


async def customer_row(settings: Settings, user: str | None, customer: str | None) -> Any:
    engine = async_engine(settings.database_url)
    try:
        if user is not None:
            return await queries.row_for_user(engine, user)
        assert customer is not None
        return await queries.row_for_customer(engine, customer)
    finally:
        await engine.dispose()


def resolve_customer(
    settings: Settings, user: str | None, customer: str | None
) -> tuple[str, str | None]:
    """(customer id, user id or None)."""
    if user is None:
        assert customer is not None
        return customer, None
    if not settings.database_url:
        raise UnknownUser("--user is looked up in Postgres: set DATABASE_URL (or use --customer)")
    row = asyncio.run(customer_row(settings, user, None))
    if row is None:
        raise UnknownUser(
            f"user {user!r} has no Stripe customer known to Atlas (no subscriptions row): "
            "use --customer"
        )
    return str(row["stripe_customer_id"]), user
