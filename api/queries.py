"""The entitlements API's reads from Postgres (the ``subscriptions`` and ``catalogs`` tables)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import desc, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from sinks.models import catalogs, invoices, overrides, subscriptions


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


async def latest_overrides(engine: AsyncEngine, customer_id: str) -> list[dict[str, Any]]:
    """The newest override of each feature of the customer (clears and lapsed ones too)."""
    query = (
        select(overrides)
        .where(overrides.c.stripe_customer_id == customer_id)
        .distinct(overrides.c.feature)
        .order_by(
            overrides.c.feature, desc(overrides.c.applied_at_ms), desc(overrides.c.override_id)
        )
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [dict(row) for row in rows]


async def customers_granted(engine: AsyncEngine, features: list[str]) -> dict[str, list[str]]:
    """Feature → customers whose latest override of it is a live grant."""
    latest = (
        select(overrides)
        .where(overrides.c.feature.in_(features))
        .distinct(overrides.c.stripe_customer_id, overrides.c.feature)
        .order_by(
            overrides.c.stripe_customer_id,
            overrides.c.feature,
            desc(overrides.c.applied_at_ms),
            desc(overrides.c.override_id),
        )
        .subquery()
    )
    live = select(latest.c.feature, latest.c.stripe_customer_id).where(
        latest.c.effect == "grant",
        (latest.c.until.is_(None)) | (latest.c.until > func.now()),
    )
    granted: dict[str, list[str]] = {}
    async with engine.connect() as connection:
        for feature, customer in (await connection.execute(live)).all():
            granted.setdefault(feature, []).append(customer)
    return granted


async def invoices_of(
    engine: AsyncEngine, customer_id: str, limit: int = 100
) -> list[dict[str, Any]]:
    """The customer's newest invoices first."""
    query = (
        select(invoices)
        .where(invoices.c.stripe_customer_id == customer_id)
        .order_by(desc(invoices.c.invoice_created).nulls_last(), desc(invoices.c.event_created))
        .limit(limit)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return [dict(row) for row in rows]


async def rows_for_customers(engine: AsyncEngine, customer_ids: list[str]) -> dict[str, Any]:
    """Customer id → its ``subscriptions`` row, for the ids that have one."""
    query = select(subscriptions).where(subscriptions.c.stripe_customer_id.in_(customer_ids))
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).mappings().all()
    return {row["stripe_customer_id"]: dict(row) for row in rows}
