"""The sink's upserts against real Postgres: idempotent, and a row never moves backwards."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from schemas.entitlements import Entitlements
from schemas.invoices import InvoiceRecord
from sinks.database import async_engine
from sinks.postgres import upsert_invoices, upsert_subscriptions
from tests.support.database import fetch_all, subscription_row

pytestmark = [pytest.mark.postgres]

PRO = Entitlements(
    customer_id="cus_sink",
    user_id="u1",
    subscription_id="sub_1",
    plan="pro",
    status="active",
    stripe_status="active",
    price_id="price_pro",
    current_period_end=1_900_000_000,
    cancel_at_period_end=False,
    features=("exports",),
    feature_bits=2,
    limits={"exports": 1},
    banner=None,
    unknown_price=False,
    version=10,
    source_event_id="evt_10",
)
FREE = replace(
    PRO, plan="free", features=(), feature_bits=0, limits={}, version=20, source_event_id="evt_20"
)


def write(url: str, *batches: list[Entitlements]) -> list[int]:
    async def run() -> list[int]:
        engine = async_engine(url)
        try:
            counts = []
            for batch in batches:
                async with engine.begin() as connection:
                    counts.append(await upsert_subscriptions(connection, batch))
            return counts
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_newer_version_wins_in_any_order(database_url: str) -> None:
    assert write(database_url, [PRO], [FREE], [PRO]) == [1, 1, 0]
    row = subscription_row(database_url, "cus_sink")
    assert (row["plan"], row["version"], row["source_event_id"]) == ("free", 20, "evt_20")


def test_one_batch_with_several_versions_of_a_row(database_url: str) -> None:
    other = replace(PRO, customer_id="cus_batch")
    newer = replace(FREE, customer_id="cus_batch")
    assert write(database_url, [newer, other, other]) == [1]
    assert subscription_row(database_url, "cus_batch")["plan"] == "free"


def test_invoice_status_never_goes_back(database_url: str) -> None:
    paid = InvoiceRecord(
        "in_1", "cus_inv", "sub_1", "paid", 100, 100, "usd", None, 1, "invoice.paid", "evt_b", 50
    )
    finalized = replace(
        paid, status="open", amount_paid=0, event_type="invoice.finalized", event_id="evt_a"
    )

    async def run() -> None:
        engine = async_engine(database_url)
        try:
            for batch in ([paid], [finalized]):  # same second: 'paid' ranks above 'open'
                async with engine.begin() as connection:
                    await upsert_invoices(connection, batch)
        finally:
            await engine.dispose()

    asyncio.run(run())
    [row] = fetch_all(database_url, "SELECT * FROM invoices WHERE stripe_invoice_id = 'in_1'")
    assert (row["status"], row["amount_paid"], row["last_event_id"]) == ("paid", 100, "evt_b")
