"""Idempotent upserts of entitlements, invoices, catalog versions and overrides into Postgres.

A row only moves forward: an entitlement is written when its ``version`` is greater than the
row's, an invoice when its ``(event_created, status_rank, last_event_id)`` is. Reprocessing a
topic from the start therefore leaves the tables as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from schemas.catalog_document import CatalogDocument
from schemas.entitlements import Entitlements
from schemas.invoices import InvoiceRecord
from schemas.overrides import Override
from sinks.models import catalogs, invoices, overrides, subscriptions

_INVOICE_STATUS_RANK = {"draft": 0, "open": 1, "paid": 2, "uncollectible": 2, "void": 3}


def _timestamp(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def subscription_row(entitlements: Entitlements) -> dict[str, Any]:
    return {
        "stripe_customer_id": entitlements.customer_id,
        "user_id": entitlements.user_id,
        "stripe_subscription_id": entitlements.subscription_id,
        "plan": entitlements.plan,
        "status": entitlements.status,
        "stripe_status": entitlements.stripe_status,
        "price_id": entitlements.price_id,
        "current_period_end": _timestamp(entitlements.current_period_end),
        "cancel_at_period_end": entitlements.cancel_at_period_end,
        "features": list(entitlements.features),
        "feature_bits": entitlements.feature_bits,
        "limits": entitlements.limits,
        "banner": entitlements.banner,
        "unknown_price": entitlements.unknown_price,
        "version": entitlements.version,
        "source_event_id": entitlements.source_event_id,
        "grace_until": _timestamp(entitlements.grace_until),
    }


def invoice_row(record: InvoiceRecord) -> dict[str, Any]:
    return {
        "stripe_invoice_id": record.invoice_id,
        "stripe_customer_id": record.customer_id,
        "stripe_subscription_id": record.subscription_id,
        "status": record.status,
        "amount_due": record.amount_due,
        "amount_paid": record.amount_paid,
        "currency": record.currency,
        "hosted_invoice_url": record.hosted_invoice_url,
        "invoice_created": _timestamp(record.invoice_created),
        "last_event_type": record.event_type,
        "last_event_id": record.event_id,
        "event_created": record.event_created,
        "status_rank": _INVOICE_STATUS_RANK.get(record.status or "", 0),
    }


async def _upsert_forward(
    connection: AsyncConnection,
    table: Table,
    rows: Iterable[dict[str, Any]],
    key: str,
    order: tuple[str, ...],
) -> int:
    """Insert or update rows, but only where ``order`` of the new row is greater: a row never
    moves backwards. One row per key per statement (Postgres updates a row once per upsert)."""
    newest: dict[Any, dict[str, Any]] = {}
    for row in rows:
        current = newest.get(row[key])
        if current is None or tuple(row[c] for c in order) > tuple(current[c] for c in order):
            newest[row[key]] = row
    if not newest:
        return 0
    values = list(newest.values())
    statement = insert(table).values(values)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={**{name: excluded[name] for name in values[0]}, "updated_at": func.now()},
        where=tuple_(*(table.c[c] for c in order)) < tuple_(*(excluded[c] for c in order)),
    )
    written = await connection.execute(statement.returning(table.c[key]))
    return len(written.fetchall())  # rows the guard let through; rowcount is -1 here


async def upsert_subscriptions(connection: AsyncConnection, batch: Iterable[Entitlements]) -> int:
    rows = map(subscription_row, batch)
    return await _upsert_forward(
        connection, subscriptions, rows, "stripe_customer_id", ("version",)
    )


async def upsert_invoices(connection: AsyncConnection, batch: Iterable[InvoiceRecord]) -> int:
    order = ("event_created", "status_rank", "last_event_id")
    return await _upsert_forward(
        connection, invoices, map(invoice_row, batch), "stripe_invoice_id", order
    )


async def _insert_once(
    connection: AsyncConnection, table: Table, key: str, rows: Iterable[dict[str, Any]]
) -> int:
    """Insert rows whose ``key`` is new; existing rows are never rewritten."""
    unique = {row[key]: row for row in rows}
    if not unique:
        return 0
    statement = insert(table).values(list(unique.values())).on_conflict_do_nothing()
    written = await connection.execute(statement.returning(table.c[key]))
    return len(written.fetchall())


async def insert_catalogs(connection: AsyncConnection, batch: Iterable[CatalogDocument]) -> int:
    """Record each published catalog version once; a version is never rewritten."""
    rows = (
        {
            "version": document.version,
            "document": document.to_json_dict(),
            "applied_at": _timestamp(document.applied_at),
            "applied_by": document.applied_by,
            "reason": document.reason,
        }
        for document in batch
    )
    return await _insert_once(connection, catalogs, "version", rows)


async def insert_overrides(connection: AsyncConnection, batch: Iterable[Override]) -> int:
    """Append each override to the audit trail once (by ``override_id``)."""
    rows = (
        {
            "override_id": override.override_id,
            "stripe_customer_id": override.customer_id,
            "user_id": override.user_id,
            "feature": override.feature,
            "effect": override.effect,
            "limit": override.limit,
            "until": _timestamp(override.until),
            "applied_at": datetime.fromtimestamp(override.applied_at_ms / 1000, tz=UTC),
            "applied_at_ms": override.applied_at_ms,
            "applied_by": override.applied_by,
            "reason": override.reason,
        }
        for override in batch
    )
    return await _insert_once(connection, overrides, "override_id", rows)
