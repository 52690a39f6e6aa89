"""The entitlements API's reads from Postgres (the ``subscriptions`` and ``catalogs`` tables)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.models import catalogs, subscriptions


async def row_for_user(engine: AsyncEngine, user_id: str) -> dict[str, Any] | None:
    """The user's subscription row; a user linked to several customers gets the one on a paid
    plan, then the most recently changed."""
    query = (
        select(subscriptions)
        .where(subscriptions.c.user_id == user_id)
        .order_by(desc(subscriptions.c.plan != "free"), desc(subscriptions.c.version))
        .limit(1)
    )
    async with engine.connect() as connection:
        row = (await connection.execute(query)).mappings().first()
    return dict(row) if row else None


async def row_for_customer(engine: AsyncEngine, customer_id: str) -> dict[str, Any] | None:
    query = select(subscriptions).where(subscriptions.c.stripe_customer_id == customer_id)
    async with engine.connect() as connection:
        row = (await connection.execute(query)).mappings().first()
    return dict(row) if row else None


async def latest_catalog_document(engine: AsyncEngine) -> dict[str, Any] | None:
    query = select(catalogs.c.document).order_by(desc(catalogs.c.version)).limit(1)
    async with engine.connect() as connection:
        document = (await connection.execute(query)).scalar()
    return dict(document) if document else None
